"""What a tuned kernel is: its schedule, its loop nest, its code, from a log or a package."""
