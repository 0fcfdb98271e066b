"""Bridges to other libraries, each an optional extra (``pip install 'archspec[sweep]'``)."""
