"""What the entry points run: one function per entry point, each taking the composed config."""
