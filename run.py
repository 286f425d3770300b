#!/usr/bin/env python3
"""Visitroom command line: serve (default), create-visit, rotate-key."""

from __future__ import annotations

import sys

from server.runtime.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
