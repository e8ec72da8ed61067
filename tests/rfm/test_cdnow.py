"""RFM on real data: the CDNOW purchase data set (69,659 purchases by 23,570 customers,
January 1997 to June 1998; `CDNOW_master.txt` from the `lifetimes` package's wheel, kept
gzipped in tests/data), imported through the GraphQL API, on SQLite and PostgreSQL.

Each customer's raw recency, frequency and monetary, and their scores, must equal an
independent pandas computation: recency in whole days from the last purchase to `now`,
scores by pandas' `rank(method="min")` quintile rule (docs/rfm.md), ties in one score.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from app.people.models import Person
from app.rfm import service

DATA = Path(__file__).parent.parent / "data" / "cdnow_master.txt.gz"
NOW = datetime(1998, 7, 1, tzinfo=UTC)
BATCH = 1000

TRACK = """
mutation($events: [EventInput!]!) {
  trackEvents(events: $events) { recorded userErrors { path message code } }
}"""


def cdnow() -> pd.DataFrame:
    with gzip.open(DATA, "rt") as raw:
        frame = pd.read_csv(raw, sep=r"\s+", dtype={"customer_id": str, "date": str})
    frame["at"] = pd.to_datetime(frame["date"], format="%Y%m%d", utc=True)
    return frame


def expected_rfm(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas on its own: per customer, then the rank-min quintile rule."""
    now = pd.Timestamp(NOW)
    per = frame.groupby("customer_id").agg(
        last=("at", "max"), frequency=("at", "size"), monetary=("dollar_value", "sum")
    )
    per["recency"] = (now - per["last"]).dt.days
    per["monetary"] = per["monetary"].round(6)
    n = len(per)
    # worse first: most days since, fewest purchases, least spent; ties share the lowest rank
    for column, metric, ascending in (("r", "recency", False), ("f", "frequency", True),
                                      ("m", "monetary", True)):  # fmt: skip
        rank = per[metric].rank(method="min", ascending=ascending)
        per[column] = 1 + (5 * (rank.astype(int) - 1)) // n
    return per


def score_by_searchsorted(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """The same rule another way: the fifth of purchasers strictly worse than each one."""
    ordered = (values if higher_is_better else -values).sort_values().to_numpy()
    keys = (values if higher_is_better else -values).to_numpy()
    below = pd.Series(ordered).searchsorted(keys, side="left")
    return pd.Series(1 + 5 * below // len(values), index=values.index)


@pytest.fixture
def frame() -> pd.DataFrame:
    return cdnow()


async def test_cdnow_rfm_equals_pandas(db, gql, workspace, frame):
    assert len(frame) == 69_659 and frame["customer_id"].nunique() == 23_570
    # given: every purchase tracked through the API, one customer per email
    events = [
        {
            "email": f"c{row.customer_id}@cdnow.example",
            "name": "purchase",
            "occurredAt": row.at.isoformat(),
            "value": float(row.dollar_value),
        }
        for row in frame.itertuples()
    ]
    for start in range(0, len(events), BATCH):
        result = (await gql.ok(TRACK, {"events": events[start : start + BATCH]}))["trackEvents"]
        assert result["userErrors"] == [] and result["recorded"] == len(
            events[start : start + BATCH]
        )
    emails = dict(await Person.filter(workspace_id=workspace.id).values_list("id", "email"))
    # when: every purchaser scored in the database
    scored = await service.score_all(workspace.id, NOW)
    # then: the same customers, metrics and scores as pandas
    want = expected_rfm(frame)
    got = (
        pd.DataFrame(
            [
                (emails[s.person_id][1:6], s.recency, s.frequency, s.monetary, s.r, s.f, s.m)
                for s in scored
            ],
            columns=["customer_id", "recency", "frequency", "monetary", "r", "f", "m"],
        )
        .set_index("customer_id")
        .sort_index()
    )
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    for column in ("recency", "frequency", "r", "f", "m"):
        mismatched = (got[column] != want[column]).sum()
        assert mismatched == 0, (column, got[column][got[column] != want[column]].head())
    assert (got["monetary"] - want["monetary"]).abs().max() == 0
    # the score distribution, and the rule read another way
    for column, metric, better in (("r", "recency", False), ("f", "frequency", True),
                                   ("m", "monetary", True)):  # fmt: skip
        counts = got[column].value_counts().sort_index()
        assert counts.to_dict() == want[column].value_counts().sort_index().to_dict()
        assert (score_by_searchsorted(want[metric], better) == got[column]).all()
    # ties are never split: one value, one score
    assert (got.groupby("frequency")["f"].nunique() == 1).all()
    assert (got.groupby("recency")["r"].nunique() == 1).all()
    # the summary's grid and the rfm conditions through the API count what pandas counts
    await check_api(gql, want)


SUMMARY = "{ rfmSummary { purchasers cells { r f count monetary } segments { segment count } } }"
PREVIEW = """
query($definition: FilterGroupInput!) { previewSegment(definition: $definition) { count } }"""
PERSON = "query($email: String) { person(email: $email) { rfm { recency frequency r f m } } }"
# docs/rfm.md's table, restated: segment -> (R low, R high, FM low, FM high)
CELLS = {
    "CHAMPIONS": (5, 5, 4, 5), "LOYAL": (3, 4, 4, 5), "POTENTIAL_LOYALIST": (4, 5, 2, 3),
    "NEW_CUSTOMERS": (5, 5, 1, 1), "PROMISING": (4, 4, 1, 1), "NEED_ATTENTION": (3, 3, 3, 3),
    "ABOUT_TO_SLEEP": (3, 3, 1, 2), "AT_RISK": (1, 2, 3, 4), "CANT_LOSE_THEM": (1, 2, 5, 5),
    "HIBERNATING": (2, 2, 1, 2), "LOST": (1, 1, 1, 2),
}  # fmt: skip


async def check_api(gql, want: pd.DataFrame) -> None:
    """rfmSummary, rfm conditions and Person.rfm (at the real now: every CDNOW purchase is
    long past, so the scores are those of NOW shifted, and the ranks are the same)."""
    summary = (await gql.ok(SUMMARY))["rfmSummary"]
    assert summary["purchasers"] == len(want)
    grid = want.groupby(["r", "f"]).agg(count=("m", "size"), monetary=("monetary", "sum"))
    for cell in summary["cells"]:
        key = (cell["r"], cell["f"])
        expected = grid.loc[key] if key in grid.index else None
        assert cell["count"] == (0 if expected is None else int(expected["count"])), key
        if expected is not None:
            assert abs(cell["monetary"] - float(expected["monetary"])) < 1e-6, key
    fm = (want["f"] + want["m"] + 1) // 2
    counts = {entry["segment"]: entry["count"] for entry in summary["segments"]}
    for segment, (r_low, r_high, fm_low, fm_high) in CELLS.items():
        inside = want["r"].between(r_low, r_high) & fm.between(fm_low, fm_high)
        assert counts[segment] == int(inside.sum()), segment
    for segment in ("CHAMPIONS", "HIBERNATING"):
        definition = {"conditions": [{"rfm": {"segments": [segment]}}]}
        count = (await gql.ok(PREVIEW, {"definition": definition}))["previewSegment"]["count"]
        assert count == counts[segment]
    definition = {"conditions": [{"rfm": {"frequency": {"min": 4}, "monetary": {"min": 5}}}]}
    count = (await gql.ok(PREVIEW, {"definition": definition}))["previewSegment"]["count"]
    assert count == int(((want["f"] >= 4) & (want["m"] == 5)).sum())
    customer = want["frequency"].idxmax()
    found = (await gql.ok(PERSON, {"email": f"c{customer}@cdnow.example"}))["person"]["rfm"]
    row = want.loc[customer]
    assert (found["frequency"], found["f"], found["m"]) == (row["frequency"], row["f"], row["m"])
