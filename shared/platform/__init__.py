"""The platform every area stands on: extensions, configuration, errors, transactions, encryption, passwords, mail, PDFs and charts. It imports no area."""
