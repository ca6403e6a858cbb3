"""Entry script for the PyInstaller bundle (the package's __main__ uses relative imports)."""
import sys

from cts_desktop.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
