"""What a simulated REST answer is: a JSON body and a status, and Upbit's error bodies.

Quotation errors name the status as an integer (``{"error": {"name": 400, "message":
"Invalid parameter. Check the given value!"}}``); exchange errors name it in words
(``{"error": {"name": "invalid_parameter", "message": "잘못된 파라미터"}}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Json = Any

CONTENT_TYPE = "application/json;charset=UTF-8"
INVALID_PARAMETER = "Invalid parameter. Check the given value!"
TYPE_MISMATCH = "Type mismatch error. Check the parameters type!"
MISSING_PARAMETER = "Missing request parameter error. Check the required parameters!"
CODE_NOT_FOUND = "Code not found"


@dataclass(slots=True)
class Answer:
    body: Json
    status: int = 200


class RequestError(Exception):
    """A request Upbit refuses: status and the error body's name and message."""

    def __init__(self, status: int, name: int | str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.name = name
        self.message = message


def quotation_error(status: int, message: str) -> RequestError:
    return RequestError(status, status, message)


def exchange_error(status: int, name: str, message: str) -> RequestError:
    return RequestError(status, name, message)


def invalid_parameter() -> RequestError:
    return exchange_error(400, "invalid_parameter", "잘못된 파라미터")


def error_answer(status: int, name: int | str, message: str) -> Answer:
    return Answer({"error": {"name": name, "message": message}}, status)


def dumps(body: Json) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
