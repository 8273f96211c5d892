"""Command-line tools: `flask --app wsgi <command>`."""
