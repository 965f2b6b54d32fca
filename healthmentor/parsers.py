"""The API's request parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]): JSON only, hardened.

Kept apart from healthmentor.api: DRF imports its default classes while rest_framework.views is
still loading, so this module must not import views (or anything that does).
"""

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, but JSON nested past Python's recursion limit, holding unpaired
    surrogates (which no database column can store) or a number beyond float range (1e309
    parses as infinity, which a text field would keep as "inf") is a 400 rather than a 500 or
    a silent "inf". (Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused before parsing:
    healthmentor.api_errors.)"""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False, allow_nan=False).encode()
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - a string holds an unpaired surrogate.") from None
        except ValueError:  # only allow_nan=False raises it: DRF's strict parse refuses NaN
            raise ParseError(
                "JSON parse error - a number is out of range (beyond ±1.8e308)."
            ) from None
        return data
