"""A campaign's moves (open, pause, resume, close) are the edges of its state graph by the
names its managers take them under; its page offers what ``Campaign.actions`` lists and
the services refuse any other with ``Conflict`` (``Campaign.allow``)."""

from __future__ import annotations

import pytest

from datatrust.domain.campaigns import (
    CAMPAIGN_MOVES,
    CAMPAIGN_TRANSITIONS,
    Campaign,
    CampaignState,
    PayBasis,
)
from datatrust.domain.errors import Conflict
from datatrust.domain.items import ItemKind

ACTIONS = {
    CampaignState.DRAFT: ("fund", "open", "close"),
    CampaignState.OPEN: ("fund", "pause", "close"),
    CampaignState.PAUSED: ("fund", "resume", "close"),
    CampaignState.CLOSED: (),
}


def _campaign(state: CampaignState) -> Campaign:
    return Campaign(
        created_by=1,
        title="Bus stops",
        kind=ItemKind.AMBIENT,
        pay_basis=PayBasis.PER_ITEM,
        rate_minor=100,
        currency="USD",
        quota=10,
        state=state,
    )


def test_every_transition_has_exactly_one_named_move_and_every_move_is_a_transition():
    named = [(frm, to) for moves in CAMPAIGN_MOVES.values() for frm, to in moves.items()]
    edges = [(frm, to) for frm, tos in CAMPAIGN_TRANSITIONS.items() for to in tos]
    assert sorted(named) == sorted(edges)


@pytest.mark.parametrize("state", list(CampaignState))
def test_each_state_offers_its_actions_and_refuses_every_other_move(state):
    campaign = _campaign(state)
    assert campaign.actions == ACTIONS[state]
    assert campaign.finished is (state is CampaignState.CLOSED)
    for action, moves in CAMPAIGN_MOVES.items():
        if action in ACTIONS[state]:
            assert campaign.allow(action) is moves[state]
            continue
        with pytest.raises(Conflict) as caught:
            campaign.allow(action)
        [problem] = caught.value.problems
        assert problem.code == "campaign.state_change"
        assert problem.params == {"state": state.value, "to": next(iter(moves.values())).value}
    assert campaign.state is state  # asking moves nothing


def test_a_paused_campaign_is_resumed_not_opened_and_a_draft_opened_not_resumed():
    with pytest.raises(Conflict, match="cannot go from paused to open"):
        _campaign(CampaignState.PAUSED).allow("open")
    with pytest.raises(Conflict, match="cannot go from draft to open"):
        _campaign(CampaignState.DRAFT).allow("resume")
