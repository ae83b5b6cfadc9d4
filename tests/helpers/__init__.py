"""What the tests share, in one place: the composed configs at tiny sizes (:mod:`.config`), one
checkpoint factory (:mod:`.checkpoints`), fake datasets in the real layouts (:mod:`.data_fakes`),
and the independent references the numerics are checked against (:mod:`.loss_references`,
:mod:`.openseg_reference`, :mod:`.segfix_original`). Test modules import from here, never from
each other."""
