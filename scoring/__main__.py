"""``python -m algoperf_like.scoring ...`` (same as ``algoperf-like score ...``)."""

from .cli import main

raise SystemExit(main())
