"""Training: run resolution (``run``), fitting one seed (``fit``), every seed with tracking
(``seeds``) and the seed output files (``outputs``). Import the submodule you need: only ``fit``
and ``seeds`` load Lightning."""
