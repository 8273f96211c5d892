"""What both blueprints share on the web: request hooks and headers, sign-in pages, forms and rate limits."""
