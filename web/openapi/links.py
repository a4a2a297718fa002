"""OpenAPI links of the public document: which value of one answer feeds which next call.

They say how a client walks the API (sign up, log in, open a wallet, move money into, out
of and between wallets, hold it and capture or void the hold, refund, follow the request,
register a webhook and read, watch or delete it) and let a stateful tester (schemathesis)
walk it the same way. Each link names its target by operationId; `parameters` fill the
target's parameters by name, and `requestBody` fills fields of its body, from runtime
expressions over the source's request and response (OpenAPI 3.1, Link Object).
"""
from typing import Any

Link = dict[str, Any]
CREATED_ID = "$response.body#/id"


def link(operation_id: str, description: str, *, parameters: dict[str, str] | None = None,
         body: dict[str, str] | None = None) -> Link:
    out: Link = {"operationId": operation_id, "description": description}
    if parameters:
        out["parameters"] = parameters
    if body:
        out["requestBody"] = body
    return out


def of_wallet(source: str) -> dict[str, Link]:
    """Links from an answer where the runtime expression `source` gives one of the
    caller's wallet ids."""
    wallet = {"wallet_id": source}
    return {
        "GetWallet": link("get_wallet", "Read the wallet.", parameters=wallet),
        "ListTransactions": link("list_wallet_transactions", "Its ledger entries.",
                                 parameters=wallet),
        "Deposit": link("create_deposit", "Deposit into it.", parameters=wallet),
        "Withdraw": link("create_withdrawal", "Withdraw from it.", parameters=wallet),
        "TransferFrom": link("create_transfer", "Send money from it.",
                             body={"from_wallet_id": source}),
        "TransferTo": link("create_transfer", "Send money to it (from another wallet).",
                           body={"to_wallet_id": source}),
        "PlaceHold": link("create_hold", "Hold money of it.", parameters=wallet),
        "ListHolds": link("list_holds", "The holds on or for it.",
                          parameters={"wallet_id": source}),
    }


def follow_request() -> dict[str, Link]:
    return {"GetRequest": link("get_request", "Follow the request until it settles.",
                               parameters={"request_id": CREATED_ID})}


def of_hold() -> dict[str, Link]:
    """Links from a hold's request (its `hold_id`)."""
    hold = {"hold_id": "$response.body#/hold_id"}
    return {**follow_request(),
            "GetHold": link("get_hold", "Read the hold.", parameters=hold),
            "Capture": link("capture_hold", "Capture it (its recipient, or its payer when it "
                            "has none).", parameters=hold),
            "Void": link("void_hold", "Release it.", parameters=hold)}


def of_webhook() -> dict[str, Link]:
    """Links from a webhook's registration (its `id`)."""
    webhook = {"webhook_id": CREATED_ID}
    return {"GetWebhook": link("get_webhook", "Read it (never its secret again).",
                               parameters=webhook),
            "ListDeliveries": link("list_webhook_deliveries", "Its deliveries log.",
                                   parameters=webhook),
            "DeleteWebhook": link("delete_webhook", "Delete it: no delivery starts after.",
                                  parameters=webhook)}


# operationId -> status -> the links of that answer.
LINKS: dict[str, dict[str, dict[str, Link]]] = {
    "sign_up": {"201": {"LogIn": link(
        "issue_token", "Log in as the new user.",
        body={"email": "$response.body#/email", "password": "$request.body#/password"})}},
    "create_wallet": {"201": {**of_wallet(CREATED_ID), "CloseWallet": link(
        "delete_wallet", "Close it while it is empty.", parameters={"wallet_id": CREATED_ID})}},
    "create_deposit": {"202": follow_request()},
    "create_withdrawal": {"202": follow_request()},
    "create_transfer": {"202": {**follow_request(), "Refund": link(
        "refund_request", "Its recipient gives it back.", parameters={"request_id": CREATED_ID})}},
    "create_hold": {"202": of_hold()},
    "capture_hold": {"202": of_hold()},
    "void_hold": {"202": follow_request()},
    "refund_request": {"202": follow_request()},
    "create_webhook": {"201": of_webhook()},
    "get_request": {"200": of_wallet("$response.body#/wallet_id")},
}


def with_links(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`paths` with LINKS added to the answers they start from (in place; returned).

    Raises:
      KeyError: when LINKS names an operation or status the paths do not have.
    """
    by_id = {op["operationId"]: op for item in paths.values() for op in item.values()}
    for operation_id, answers in LINKS.items():
        for status, links in answers.items():
            by_id[operation_id]["responses"][status]["links"] = links
    return paths
