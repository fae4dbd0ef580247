import sys

from wimpsift.cli.main import main

sys.exit(main())
