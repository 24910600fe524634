from rnnzoo import interrupts

interrupts.install()  # before the command line's imports (see rnnzoo.interrupts)

from rnnzoo.cli import main  # noqa: E402

main()
