"""``python -m zhisou.cli``: the same as the ``zhisou`` command."""

from zhisou.cli import main

main()
