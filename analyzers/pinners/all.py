"""Imports every visitor module so that each registers itself."""
# Each import below registers its visitors with memcg_zombies.pinners.pinner().
