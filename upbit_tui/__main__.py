import sys

from upbit_tui.cli import main

sys.exit(main())
