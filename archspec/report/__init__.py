"""Reports on a graph IR: the summary (analytic totals and torchinfo's table), the
side-by-side comparison of specs, and the helpers that print them."""
