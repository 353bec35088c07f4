"""python -m plen: the same as the `plen` command."""

from plen.cli.main import main

if __name__ == "__main__":
    main()
