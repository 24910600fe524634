"""The trainer's lazy shuffle: a permutation per (seed, epoch), shared out like torch's
DistributedSampler, without listing the examples."""

import itertools

import pytest

from rnnzoo.trainer.sampler import ShuffledShare


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 4097])
def test_an_epoch_is_a_permutation(n):
    order = list(ShuffledShare(n, 0, 1, seed=3, chunk=100))
    assert sorted(order) == list(range(n))
    if n >= 64:
        assert order != list(range(n))  # shuffled, not the identity


def test_the_order_depends_on_seed_and_epoch_alone():
    def order(seed, epoch):
        sampler = ShuffledShare(500, 0, 1, seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0, 0) == order(0, 0)
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)


@pytest.mark.parametrize(("n", "world"), [(10, 2), (11, 2), (100, 3), (5, 8)])
def test_processes_share_an_epoch_like_distributed_sampler(n, world):
    """Equal shares (ceil(n / world)), padded from the start of the shuffle: every example
    once, and the padding repeats as few as it must."""
    shares = [list(ShuffledShare(n, rank, world, seed=1, chunk=3)) for rank in range(world)]
    assert {len(share) for share in shares} == {-(-n // world)}
    together = list(itertools.chain(*shares))
    assert set(together) == set(range(n))
    assert len(together) - n == -(-n // world) * world - n
