"""XML parsed safely: defusedxml refuses DTD entities and external
references (XXE, billion laughs); iterparse with cleared elements keeps
memory bounded."""

from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from files import conf
from files.validation.report import CheckFailed


def check_xml(path: Path) -> dict[str, Any]:
    depth = max_depth = elements = 0
    root = None
    try:
        for event, element in iterparse(
            str(path), events=("start", "end"), forbid_dtd=True, forbid_entities=True, forbid_external=True
        ):
            if event == "start":
                if root is None:
                    root = element.tag
                depth += 1
                max_depth = max(max_depth, depth)
                if depth > conf.JSON_MAX_DEPTH:
                    raise CheckFailed(f"XML nested deeper than {conf.JSON_MAX_DEPTH} levels")
            else:
                depth -= 1
                elements += 1
                element.clear()
    except DefusedXmlException as exc:
        raise CheckFailed(
            f"unsafe XML refused ({type(exc).__name__}): DTDs, entities and external references are not allowed"
        ) from None
    except ParseError as exc:
        raise CheckFailed(f"malformed XML: {exc}") from None
    return {"root": str(root), "elements": elements, "max_depth": max_depth}
