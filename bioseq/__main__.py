import sys

from bioseq.cli import main

sys.exit(main())
