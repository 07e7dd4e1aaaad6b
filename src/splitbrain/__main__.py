"""``python -m splitbrain``: the same as the ``splitbrain`` command."""

from splitbrain.cli import main

main()
