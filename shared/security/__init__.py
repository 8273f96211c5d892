"""Who may do what, and who someone is: role sets, accounts, sessions, MFA, the staff policy and staff administration."""
