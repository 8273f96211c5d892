"""Factories for fictional people and records. Every name and address here is invented."""

from __future__ import annotations

import itertools

from shared.models import Staff, Student, utcnow
from shared.platform.extensions import db
from shared.platform.passwords import hash_password
from shared.security import staff_policy
from shared.security.mfa import enrol_for_demo

PASSWORD = "correct horse battery staple 42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # every factory staff account's authenticator secret
_seq = itertools.count(1)


def make_student(email: str | None = None, *, confirmed: bool = True, password: str = PASSWORD) -> Student:
    student = Student(
        email=email or f"student{next(_seq)}@example.ac.uk",
        password_hash=hash_password(password),
        email_confirmed_at=utcnow() if confirmed else None,
    )
    db.session.add(student)
    db.session.commit()
    return student


def make_staff(
    role: str = "officer",
    *,
    email: str | None = None,
    name: str = "Robin Testworth",
    job_title: str = "Student Advisor",
    password: str = PASSWORD,
    active: bool = True,
    mfa: bool = True,
    policy: bool = True,
) -> Staff:
    """A staff account. By default already enrolled in two-factor authentication with TOTP_SECRET and
    having accepted the current confidentiality policy, so tests can sign in the way staff do."""
    staff = Staff(
        email=email or f"staff{next(_seq)}@example.ac.uk",
        name=name,
        job_title=job_title,
        role=role,
        password_hash=hash_password(password),
        active=active,
    )
    db.session.add(staff)
    db.session.flush()
    if mfa:
        enrol_for_demo(staff, TOTP_SECRET)
    if policy:
        staff_policy.record_for_seed(staff)
    db.session.commit()
    return staff
