"""A wallet's balance at a moment, and its statement over a period (JSON, or CSV streamed
a chunk of entries at a time, so a year of them never sits in memory)."""
import csv
import io
from collections.abc import Iterator

import bottle
import orjson

from accounts import wallets
from errors import WalletNotFound
from ledger import history
from money import format_amount
from web import views
from web.filters import balance_moment, statement_format, statement_period
from web.http import json_response
from web.inputs import current_user, path_id
from web.routing import Routes

routes = Routes()
CSV_TYPE = "text/csv; charset=utf-8"
# Entries rendered per piece of the streamed body: big enough to keep the per-write cost
# small, small enough that a piece is a few hundred KiB at most.
ROWS_PER_PIECE = 500


@routes.get("/v1/wallets/<wallet_id>/balance", query={"at"})
def get_balance_at(wallet_id):
    wallet = wallets.get_wallet(current_user(), path_id(wallet_id, WalletNotFound))
    at = balance_moment()
    return json_response(200, views.balance_at(wallet["id"], wallet["currency"], at,
                                               history.balance_at(wallet["id"], at)))


@routes.get("/v1/wallets/<wallet_id>/statement", query={"from", "to", "format"})
def get_statement(wallet_id):
    wallet = wallets.get_wallet(current_user(), path_id(wallet_id, WalletNotFound))
    start, end = statement_period()
    kind = statement_format()
    span = history.period(wallet["id"], start, end)
    lines = history.entries(wallet["id"], span)
    currency = wallet["currency"]
    if kind == "csv":
        return bottle.HTTPResponse(csv_pieces(lines, currency), status=200, headers={
            "Content-Type": CSV_TYPE,
            "Content-Disposition": f'attachment; filename="statement-{wallet["id"]}-'
                                   f'{start:%Y%m%d}-{end:%Y%m%d}.csv"',
            "Statement-Opening-Balance": format_amount(span.opening, currency),
            "Statement-Closing-Balance": format_amount(span.closing, currency)})
    return bottle.HTTPResponse(json_pieces(views.statement_head(wallet["id"], currency, span),
                                           lines, currency), status=200,
                               headers={"Content-Type": "application/json"})


def _pieces(lines: Iterator[history.Line], render) -> Iterator[list]:
    piece = []
    for line in lines:
        piece.append(render(line))
        if len(piece) == ROWS_PER_PIECE:
            yield piece
            piece = []
    if piece:
        yield piece


def csv_pieces(lines: Iterator[history.Line], currency: str) -> Iterator[bytes]:
    """The CSV statement: its header row, then one row per entry (RFC 4180, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(views.CSV_HEADER)
    yield out.getvalue().encode()
    for piece in _pieces(lines, lambda line: views.transaction_csv(line, currency)):
        out.seek(0)
        out.truncate()
        writer.writerows(piece)
        yield out.getvalue().encode()


def json_pieces(head: dict, lines: Iterator[history.Line], currency: str) -> Iterator[bytes]:
    """The JSON statement, `head` and then its `entries`, oldest first, written as they
    are read."""
    yield orjson.dumps(head)[:-1] + b',"entries":['
    first = True
    for piece in _pieces(lines, lambda line: views.transaction(line, currency)):
        body = b",".join(orjson.dumps(item) for item in piece)
        yield body if first else b"," + body
        first = False
    yield b"]}"
