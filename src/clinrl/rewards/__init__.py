"""Answer parsing, the output contract, reward schemes and reward-function helpers."""

from clinrl.rewards.contract import ContractResult, parse_contract
from clinrl.rewards.scheme import RewardScheme

__all__ = ["ContractResult", "parse_contract", "RewardScheme"]
