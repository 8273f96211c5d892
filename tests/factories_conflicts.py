"""Two fictional students on opposite sides of one housing dispute, each with their own adviser."""

from __future__ import annotations

from dataclasses import dataclass

from shared.casework import conflicts
from shared.casework import record as case_record
from shared.casework.conflicts import PersonAnswers, conflict_between
from shared.models import Case, PossibleConflict
from tests.factories import make_staff, make_student
from tests.factories_casework import make_case

JORDAN = dict(full_name="Jordan Quillfeather", college_code="newnham")
SAM = dict(full_name="Sam Whitlocke", college_code="girton")


@dataclass
class Dispute:
    jordan: object  # the student who came first
    sam: object  # the housemate who names Jordan
    jordan_case: Case
    sam_case: Case
    jordan_adviser: object
    sam_adviser: object
    conflict: PossibleConflict | None


def names_jordan(**overrides) -> PersonAnswers:
    values = dict(name="jordan  QUILLFEATHER", relation="student", college_code="newnham")
    values.update(overrides)
    return PersonAnswers(**values)


def dispute(*, decide: str | None = None, manager=None) -> Dispute:
    """Jordan asks for advice about a housemate; Sam, the housemate, then asks too and names Jordan. Each
    case has its own adviser. With `decide`, the manager records that decision."""
    jordan = make_student(email="jordan.quillfeather@example.ac.uk")
    sam = make_student(email="sam.whitlocke@example.ac.uk")
    jordan_adviser = make_staff(email="adviser.one@example.ac.uk", name="Ari Adviserone")
    sam_adviser = make_staff(email="adviser.two@example.ac.uk", name="Bo Advisertwo")
    jordan_case = make_case(jordan, **JORDAN, area_code="housing",
                            what_happened="My housemate keeps the deposit money for the whole house.")
    case_record.assign(jordan_adviser, jordan_case.reference, jordan_adviser.id)
    sam_case = make_case(sam, **SAM, area_code="housing", what_happened="My housemate says I owe them money.",
                         people=[names_jordan()])
    case_record.assign(sam_adviser, sam_case.reference, sam_adviser.id)
    found = conflict_between(jordan_case, sam_case)
    if decide is not None:
        conflicts.decide(manager, found.id, conflicts.Decision(
            outcome=decide, reason="Both students are on opposite sides of one deposit dispute.",
            referred_to="Fictional Town Citizens Advice" if decide == "refer_elsewhere" else "",
            referred_reference=sam_case.reference if decide == "refer_elsewhere" else ""))
    return Dispute(jordan, sam, jordan_case, sam_case, jordan_adviser, sam_adviser, found)
