"""An IMS QTI 2.1 content package: one assessmentItem per variant and a test that gives each
candidate one of them at random.

Layout of the zip (flat per item, as OpenOlat and ONYX export, so no href climbs out of a folder):

    imsmanifest.xml                IMS CP 1.1 manifest
    EXAM-test.xml                  the assessmentTest (`selection select="1"`)
    EXAM-CODE/EXAM-CODE.xml        a variant's assessmentItem
    EXAM-CODE/network.svg          its network drawing
    EXAM-CODE/bpquiz.css           the tables' borders

Each asked quantity is a `textEntryInteraction` (baseType float, the response identifier is the
quantity's id); SCORE sums the points of the responses `equal` to the key's value within the
key's tolerance (toleranceMode absolute); the worked solution is modal feedback.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from bpquiz import __version__
from bpquiz.lms.package import identifier, zip_bytes
from bpquiz.lms.question import IMAGE, TEMPLATES, Question, render

STYLESHEET = "bpquiz.css"


def interaction(box_id: str) -> str:
    return f'<textEntryInteraction responseIdentifier="{box_id}" expectedLength="10"/>'


def qti_package(questions: Sequence[Question]) -> bytes:
    """The content package's bytes."""
    exam = questions[0].exam
    css = (TEMPLATES / STYLESHEET).read_text(encoding="utf-8")
    files: dict[str, str | bytes] = {}
    items = []
    for q in questions:
        item = identifier(f"{exam}-{q.code}")
        href = f"{item}/{item}.xml"
        files[href] = render(
            "qti_item.xml",
            identifier=item,
            question=q,
            version=__version__,
            stylesheet=STYLESHEET,
            # Markup: the question's HTML is XHTML the item embeds as elements, not as text.
            body=Markup(q.html(lambda b: interaction(b.id), IMAGE)),
            solution=Markup(q.solution_html()),
        )
        files[f"{item}/{IMAGE}"] = q.svg
        files[f"{item}/{STYLESHEET}"] = css
        items.append(
            {
                "identifier": item,
                "href": href,
                "files": [href, f"{item}/{IMAGE}", f"{item}/{STYLESHEET}"],
            }
        )
    test = {"identifier": identifier(f"{exam}-test"), "href": identifier(f"{exam}-test") + ".xml"}
    files[test["href"]] = render(
        "qti_test.xml", identifier=test["identifier"], exam=exam, items=items, version=__version__
    )
    manifest = render(
        "qti_manifest.xml", identifier=identifier(exam), test=test, items=items, version=__version__
    )
    return zip_bytes({"imsmanifest.xml": manifest, **files})
