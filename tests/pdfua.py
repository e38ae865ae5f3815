"""A small structural check of a tagged PDF: what PDF/UA-1 asks of content and structure that
bpquiz's files could get wrong (a stamped file's numbers outside their slots, a class file's
copies sharing structure, page furniture left out of the tree, a drawing without alternative
text, form fields without a tooltip or outside the structure). Not a validator: no veraPDF or
PAC runs here, and neither knows what the pages should say."""

import io

from pypdf import PdfReader
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject


def check(data: bytes) -> list[str]:
    """What is wrong with a tagged PDF's structure and marked content ([] if nothing)."""
    r = PdfReader(io.BytesIO(data))
    root = r.trailer["/Root"]
    problems = []
    if "/StructTreeRoot" not in root:
        return ["not tagged"]
    if not root.get("/Lang"):
        problems.append("no /Lang")
    if not root.get("/MarkInfo", {}).get("/Marked"):
        problems.append("not Marked")
    if not root.get("/ViewerPreferences", {}).get("/DisplayDocTitle"):
        problems.append("DisplayDocTitle")
    xmp = root["/Metadata"].get_data()
    if b"pdfuaid:part" not in xmp:
        problems.append("no pdfuaid")
    title = r.metadata.title
    if title.encode() not in xmp.replace(b"&amp;", b"&"):
        problems.append(f"XMP title != Info title {title!r}")
    st = root["/StructTreeRoot"]
    nums = st["/ParentTree"]["/Nums"]
    ptree = {int(nums[k]): nums[k + 1].get_object() for k in range(0, len(nums), 2)}
    figures_without_alt = 0
    # walk structure: collect (page idnum, mcid) content items
    items = set()
    stack = [st["/K"]]
    elems = 0
    while stack:
        k = stack.pop()
        if isinstance(k, ArrayObject):
            stack.extend(k)
            continue
        obj = k.get_object() if hasattr(k, "get_object") else k
        if isinstance(obj, int):
            continue
        if isinstance(obj, DictionaryObject) and obj.get("/Type") == "/StructElem":
            elems += 1
            if obj["/S"] == "/Figure" and "/Alt" not in obj:
                figures_without_alt += 1
            kids = obj.get("/K", [])
            kids = kids if isinstance(kids, ArrayObject) else [kids]
            for kid in kids:
                if isinstance(kid, int):
                    items.add((obj.raw_get("/Pg").idnum, int(kid)))
                else:
                    stack.append(kid)
    if figures_without_alt:
        problems.append(f"{figures_without_alt} Figure(s) without /Alt")
    texts_outside = 0
    mcids_found = 0
    orphans = []
    objrs = set()
    stack = [st["/K"]]
    while stack:
        k = stack.pop()
        obj = k.get_object() if hasattr(k, "get_object") else k
        if isinstance(obj, ArrayObject):
            stack.extend(obj)
        elif isinstance(obj, DictionaryObject):
            if obj.get("/Type") == "/OBJR":
                objrs.add(obj.raw_get("/Obj").idnum)
            elif "/K" in obj:
                stack.append(obj["/K"])
    for page in r.pages:
        for ref in page.get("/Annots", []):
            annotation = ref.get_object()
            if annotation.get("/Subtype") != "/Widget":
                continue
            if page.get("/Tabs") != "/S":
                problems.append("a page with fields has no /Tabs /S")
            if not annotation.get("/TU"):
                problems.append(f"field {annotation.get('/T')} has no tooltip (/TU)")
            if "/StructParent" not in annotation or ref.idnum not in objrs:
                problems.append(f"field {annotation.get('/T')} is not in the structure tree")
    for page in r.pages:
        pg = page.indirect_reference.idnum
        contents = page.get_contents()
        if "/StructParents" not in page:
            if contents is not None and contents.get_data().strip():
                problems.append("a page with content has no /StructParents")
            continue  # a blank page (a duplex class file's)
        arr = ptree.get(int(page["/StructParents"]))
        ops = ContentStream(contents, r).operations
        marks = []
        for operands, op in ops:
            if op == b"BDC":
                tag = operands[0]
                props = operands[1]
                mcid = props.get("/MCID") if isinstance(props, DictionaryObject) else None
                marks.append((tag, mcid))
                if mcid is not None:
                    mcids_found += 1
                    if (pg, int(mcid)) not in items:
                        orphans.append(int(mcid))
                    elem = arr[int(mcid)].get_object()
                    if elem.raw_get("/Pg").idnum != pg:
                        problems.append("parent tree /Pg")
            elif op == b"BMC":
                marks.append((operands[0], None))
            elif op == b"EMC":
                marks.pop()
            elif op in (b"Tj", b"TJ", b"'", b'"') and not any(
                m[1] is not None or m[0] == "/Artifact" for m in marks
            ):
                texts_outside += 1
        if marks:
            problems.append("unbalanced BDC/EMC")
    if orphans:
        problems.append(
            f"{len(orphans)} MCIDs not reachable from the structure root (page margins)"
        )
    if texts_outside:
        problems.append(f"{texts_outside} text operators outside marked content")
    return problems
