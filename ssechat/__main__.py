"""`python -m ssechat`: the same entry point as the console script."""

from ssechat.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
