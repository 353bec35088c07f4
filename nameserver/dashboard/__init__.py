"""What the web dashboard shows, computed boundedly: throughput samples (``samples.py``) and
bucket counts (``buckets.py``); the page itself is ``static/``, served by
``nameserver/api/dashboard.py``."""
