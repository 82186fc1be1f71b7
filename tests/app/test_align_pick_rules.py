"""The pick rules of :mod:`fkc_align.pick_rules` on hand-made particle sets: the draw from the
FKC weights, the kept picks, the exploration rules, the regions and the liked set. Each test
fails on a specific wrong pick (named in its comment); ``bench/mutation_test.py --suite app``
applies such bugs one at a time."""

import math

import pytest
import torch

from fkc_align import strategies
from fkc_align.pick_rules import (
    _kmeans,
    draw_by_weight,
    explore_picks,
    floor_picks,
    keep_picks,
    region_picks,
    unexplored_picks,
    unvisited_regions,
)


def _modes(counts, centres, spread=0.05, seed=0):
    gen = torch.Generator().manual_seed(seed)
    f = torch.cat([torch.tensor(c) + spread * torch.randn(n, 2, generator=gen)
                   for n, c in zip(counts, centres, strict=True)])
    mode = torch.cat([torch.full((n,), j) for j, n in enumerate(counts)])
    return f, mode


@pytest.mark.parametrize("seed", range(8))
def test_draw_by_weight_gives_each_mode_its_share_of_the_weight(seed):
    # three separated modes, 30 particles each but masses 1/2, 1/4, 1/4: 8 picks are 4, 2, 2
    # whatever the uniform (systematic resampling over the mode-contiguous layout); a draw by
    # particle count (uniform weights) would give about 3, 3, 2, and top-by-weight all from one
    f, mode = _modes([30, 30, 30], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)], seed=seed)
    gen = torch.Generator().manual_seed(seed)
    raw = torch.rand(90, generator=gen) + 0.5  # unequal weights inside each mode
    mass = torch.tensor([0.5, 0.25, 0.25])
    w = raw / torch.stack([raw[mode == j].sum() for j in range(3)])[mode] * mass[mode]
    got = draw_by_weight(f, torch.log(w), 8, torch.Generator().manual_seed(100 + seed))
    assert len(set(got)) == 8
    assert torch.bincount(mode[got], minlength=3).tolist() == [4, 2, 2]


def test_draw_by_weight_follows_weights_not_particle_counts():
    # mode 0 has 10 particles but 3/4 of the weight, mode 1 has 50 particles and 1/4
    f, mode = _modes([10, 50], [(0.0, 0.0), (4.0, 4.0)])
    w = torch.where(mode == 0, 0.75 / 10, 0.25 / 50)
    for s in range(5):
        got = draw_by_weight(f, torch.log(w), 8, torch.Generator().manual_seed(s))
        assert torch.bincount(mode[got], minlength=2).tolist() == [6, 2]


def test_a_particle_drawn_twice_is_replaced_by_another_of_its_mode():
    # one heavy particle holds 0.9 of mode 0's weight: systematic resampling draws it several
    # times; the replacements stay in mode 0 and all picks are distinct
    f, mode = _modes([12, 12], [(0.0, 0.0), (6.0, 0.0)])
    w = torch.full((24,), 0.5 / 12)
    w[:12] = 0.1 * 0.5 / 11
    w[3] = 0.9 * 0.5
    got = draw_by_weight(f, torch.log(w), 6, torch.Generator().manual_seed(0))
    assert len(set(got)) == 6 and 3 in got
    assert torch.bincount(mode[got], minlength=2).tolist() == [3, 3]


def test_exploration_takes_the_nearest_distance_not_the_mean_distance():
    asked = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    # A (5, 0): nearest 5, mean 5; B (0, 3): nearest 3, mean 6.7. Novelty is the nearest
    # distance: A first. A mean-distance novelty picks B.
    feats = torch.tensor([[5.0, 0.0], [0.0, 3.0], [9.0, 0.5]])
    allowed = torch.tensor([True, True, True])
    assert explore_picks(feats, allowed, asked, [], 1) == [0]
    # then B (3 from the asked (0, 0)) rather than (9, 0.5) (1.1 from (10, 0)); rows chosen
    # before count as asked, and rows not allowed are never taken
    assert explore_picks(feats, allowed, asked, [], 2) == [0, 1]
    assert explore_picks(feats, torch.tensor([False, True, True]), asked, [], 3) == [1, 2]
    # an ensemble that disagrees about B lifts it above A: 3·(1 + 2/0.7) > 5·(1 + 0.1/0.7)
    std = torch.tensor([0.1, 2.0, 0.0])
    assert explore_picks(feats, allowed, asked, [], 1, std) == [1]


def _rings(centres, spread=0.3):
    """A centre point and a ring of 7 around it per mode: the centre is its mode's most typical
    member (nearest the mode's mean)."""
    ring = torch.stack([torch.cos(torch.arange(7) * 2 * math.pi / 7),
                        torch.sin(torch.arange(7) * 2 * math.pi / 7)], 1) * spread
    return torch.cat([torch.cat([torch.zeros(1, 2), ring]) + torch.tensor(c) for c in centres])


def test_unexplored_picks_show_the_typical_member_of_each_unvisited_mode_farthest_first():
    # modes A (0, 0), B (4, 0), C (0, 12), D (6, 6); asked: near A; chosen: a B row. C is
    # farther from A and B than D is, so C's centre (row 16) comes first, then D's (row 24);
    # A and B are visited and get nothing however many picks are asked for
    f = _rings([(0.0, 0.0), (4.0, 0.0), (0.0, 12.0), (6.0, 6.0)])
    allowed = torch.ones(len(f), dtype=torch.bool)
    asked = torch.tensor([[0.2, 0.1]])
    assert unexplored_picks(f, allowed, asked, [9], 1, clusters=4) == [16]
    assert unexplored_picks(f, allowed, asked, [9], 5, clusters=4) == [16, 24]
    # a visited mode is one an asked or chosen row falls in: nothing chosen, B is unvisited
    assert 8 in unexplored_picks(f, allowed, asked, [], 5, clusters=4)
    # only allowed rows are clustered and shown: with C not allowed, D alone is left
    allowed[16:24] = False
    assert unexplored_picks(f, allowed, asked, [9], 5, clusters=3) == [24]
    # novelty alone goes to the farthest single row instead, a ring point of C, not its centre
    assert explore_picks(f, torch.ones(len(f), dtype=torch.bool), torch.cat([asked, f[9:10]]),
                         [], 1) != [16]


def test_unvisited_regions_are_whole_modes_farthest_first_with_their_centroids():
    # the same four modes: C (rows 16-23) then D (rows 24-31), each with its own members and
    # the mean of them as centroid; a region that lost rows to `allowed` lists only the rest
    f = _rings([(0.0, 0.0), (4.0, 0.0), (0.0, 12.0), (6.0, 6.0)])
    allowed = torch.ones(len(f), dtype=torch.bool)
    asked = torch.tensor([[0.2, 0.1]])
    regions = unvisited_regions(f, allowed, asked, [9], clusters=4)
    assert [m.tolist() for m, _ in regions] == [list(range(16, 24)), list(range(24, 32))]
    torch.testing.assert_close(regions[0][1], f[16:24].mean(0))
    allowed[[17, 18]] = False
    (c_rows, _), _ = unvisited_regions(f, allowed, asked, [9], clusters=4)
    assert c_rows.tolist() == [16] + list(range(19, 24))
    # nothing asked or chosen yet: no region counts as unvisited
    assert unvisited_regions(f, allowed, asked[:0], [], clusters=4) == []


def test_explore_picks_never_repeat_a_chosen_row():
    # every allowed row sits on an asked row (novelty 0 everywhere), so the argmax would be the
    # first allowed row, 0, which another rule chose already: it must go to 1, then 2, then none
    feats = torch.zeros(3, 2)
    allowed = torch.ones(3, dtype=torch.bool)
    asked = torch.zeros(1, 2)
    assert explore_picks(feats, allowed, asked, [0], 2) == [1, 2]
    assert explore_picks(feats, allowed, asked, [0, 1], 2) == [2]


def test_draw_by_weight_with_a_score_shows_each_drawn_clusters_best():
    # three modes of equal mass, 3 picks: one per mode (3 clusters); inside each the best
    # scored row (score = -row index: the mode's first row), where a plain draw takes any
    f, mode = _modes([30, 30, 30], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)])
    log_w = torch.full((90,), -math.log(90.0))
    score = -torch.arange(90.0)
    for s in range(4):
        got = draw_by_weight(f, log_w, 3, torch.Generator().manual_seed(s), score=score)
        assert sorted(got) == [0, 30, 60]
    plain = [draw_by_weight(f, log_w, 3, torch.Generator().manual_seed(s)) for s in range(4)]
    assert any(sorted(p) != [0, 30, 60] for p in plain)


def test_keep_picks_return_to_the_liked_answer_the_draw_left_uncovered():
    # modes A (0, 0), B (5, 0), C (0, 5), 4 rows each; liked answers in A and C; the weighted
    # draw took two rows of A, so the kept pick is the row nearest the C answer (row 9, not
    # the A answer's nearest nor a B row); a second kept pick goes back to A's answer
    f, mode = _modes([4, 4, 4], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)], spread=0.3)
    anchors = torch.tensor([[0.1, 0.1], [f[9, 0] + 0.01, f[9, 1]]])
    for order in ("density", "farthest"):
        assert strategies.keep_picks(f, anchors, [0, 1], 1, order=order) == [9]
        assert strategies.keep_picks(f, anchors[:0], [0], 2, order=order) == []
    # farthest: the second pick goes back to A's answer, now the farthest from every pick
    two = strategies.keep_picks(f, anchors, [0, 1], 2, order="farthest")
    assert two[0] == 9 and mode[two[1]] == 0 and two[1] not in (0, 1)
    # density: A already has two picks beside its answer, C one: C again
    two = strategies.keep_picks(f, anchors, [0, 1], 2)
    assert two[0] == 9 and mode[two[1]] == 2
    with pytest.raises(ValueError, match="order: expected 'density' or 'farthest', got 'x'"):
        strategies.keep_picks(f, anchors, [0], 1, order="x")


def test_density_kept_picks_serve_the_liked_mode_with_fewer_answers():
    # mode A has five liked answers spread over it, mode C one. Farthest-point order gives C
    # one pick of four (the rest go to A's outlying answers); the density order gives C picks
    # until its answers and picks are as dense as A's: three of four
    f, mode = _modes([8, 8], [(0.0, 0.0), (0.0, 6.0)], spread=0.6, seed=3)
    anchors = torch.cat([f[:5] + 0.01, f[8:9] + 0.01])
    dens = strategies.keep_picks(f, anchors, [], 4)
    far = strategies.keep_picks(f, anchors, [], 4, order="farthest")
    assert len(set(dens)) == 4 and len(set(far)) == 4
    assert int((mode[dens] == 1).sum()) == 3
    assert int((mode[far] == 1).sum()) == 1


def test_liked_answers_are_the_top_quarter_of_the_range_and_likely_liked_rows_follow():
    r = torch.tensor([-8.0, -4.0, -0.2, -1.0, -2.0])
    assert strategies.liked_threshold(r) == pytest.approx(-0.2 - 0.25 * 7.8)
    feats = torch.arange(10.0).reshape(5, 2)
    assert torch.equal(strategies.liked_answers(feats, r), feats[[2, 3, 4]])
    assert len(strategies.liked_answers(feats, torch.zeros(5))) == 0  # nothing stands out
    # strong: the upper half of the liked answers (at least their median, -1.0)
    assert torch.equal(strategies.liked_answers(feats, r, strong=True), feats[[2, 3]])
    rows = torch.arange(6)
    mean = torch.tensor([-5.0, -0.1, -3.0, -0.5, -1.5, -6.0])
    # as good as the median liked answer (-1.0): rows 1, 3; asked for 4, the 4 best predicted
    assert strategies.likely_liked(rows, mean, r, 2).tolist() == [1, 3]
    assert strategies.likely_liked(rows, mean, r, 4).tolist() == [1, 2, 3, 4]


def test_region_picks_show_one_typical_member_of_every_mode_the_small_one_included():
    # modes of 40, 40 and 4 rows (the small one far out): 3 uniform draws miss it most of the
    # time; region picks show each mode's member nearest its centroid, rows in mode order
    f, mode = _modes([40, 40, 4], [(0.0, 0.0), (3.0, 0.0), (0.0, 9.0)], spread=0.3)
    got = region_picks(f, 3)
    assert sorted(int(mode[i]) for i in got) == [0, 1, 2]  # a mean-shifted pick repeats a mode
    for i in got:
        members = torch.nonzero(mode == mode[i])[:, 0]
        centre = f[members].mean(0)
        nearest = members[torch.cdist(f[members], centre[None])[:, 0].argmin()]
        assert i == int(nearest)  # the typical member, not an outlier of its mode
    assert region_picks(f[:2], 3) == [0, 1] and region_picks(f, 0) == []
    # fewer distinct rows than picks: k-means leaves regions empty, the farthest rows fill up
    dup = torch.cat([torch.zeros(6, 2), torch.ones(1, 2)])
    got = region_picks(dup, 3)
    assert len(got) == 3 and len(set(got)) == 3  # two regions and one row filled up
    assert 6 in region_picks(dup, 2)


def test_a_kept_pick_shows_the_best_predicted_of_its_near_candidates():
    # one liked answer at the origin, six rows on a line 0.1 .. 0.6 from it: with scores the
    # kept pick is the best of the `near` nearest (row 1 of rows 0-3, not row 4 beyond them);
    # without scores the nearest row
    f = torch.tensor([[0.1 * (i + 1), 0.0] for i in range(6)])
    anchors = torch.zeros(1, 2)
    score = torch.tensor([0.0, 3.0, 1.0, 2.0, 9.0, 0.0])
    assert keep_picks(f, anchors, [], 1, score) == [1]
    assert keep_picks(f, anchors, [], 1, score, near=5) == [4]
    assert keep_picks(f, anchors, [], 1) == [0]


def test_novelty_times_uncertainty_keeps_the_distance_and_averages_over_the_allowed_rows():
    asked = torch.zeros(1, 2)
    # A (5, 0) certain, B (0, 1) uncertain: 5·(1 + 0) > 1·(1 + 0.2/0.1), so A; a factor
    # std/avg alone (without the 1) would never explore a row the networks agree on
    feats = torch.tensor([[5.0, 0.0], [0.0, 1.0]])
    assert explore_picks(feats, torch.ones(2, dtype=torch.bool), asked, [], 1,
                         torch.tensor([0.0, 0.2])) == [0]
    # the mean std is over the allowed rows: C (not allowed) disagrees wildly, which must not
    # flatten B's boost: A 4·1 < B 2·(1 + 1/0.5)
    feats = torch.tensor([[4.0, 0.0], [0.0, 2.0], [0.0, -9.0]])
    allowed = torch.tensor([True, True, False])
    assert explore_picks(feats, allowed, asked, [], 1, torch.tensor([0.0, 1.0, 100.0])) == [1]


def test_each_exploration_pick_counts_as_asked_for_the_next():
    # (10.5, 0) first; its neighbour (10, 0) is then 0.5 from a pick, so (0, 6) comes second
    feats = torch.tensor([[10.5, 0.0], [10.0, 0.0], [0.0, 6.0]])
    everyone = torch.ones(3, dtype=torch.bool)
    assert explore_picks(feats, everyone, torch.zeros(1, 2), [], 2) == [0, 2]


def test_regions_are_at_most_a_quarter_as_many_as_the_rows():
    # four tight pairs, two far groups: 8 rows allow 2 regions, the far group (rows 4-7) is the
    # one left unvisited by an answer near the origin, not three single pairs
    f = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 3.0], [0.1, 3.0],
                      [20.0, 0.0], [20.1, 0.0], [20.0, 3.0], [20.1, 3.0]])
    regions = unvisited_regions(f, torch.ones(8, dtype=torch.bool), torch.zeros(1, 2), [],
                                clusters=4)
    assert [m.tolist() for m, _ in regions] == [[4, 5, 6, 7]]


def test_an_unvisited_region_shows_its_typical_member_wherever_it_is_listed():
    # the far mode's ring comes first and its centre last (row 15): the typical member is the
    # centre, not the region's first row
    near = _rings([(0.0, 0.0)])
    far = torch.cat([_rings([(0.0, 12.0)])[1:], torch.tensor([[0.0, 12.0]])])
    f = torch.cat([near, far])
    got = unexplored_picks(f, torch.ones(16, dtype=torch.bool), torch.zeros(1, 2), [], 1,
                           clusters=2)
    assert got == [15]


def test_kmeans_regions_are_a_lloyd_fixed_point():
    # three overlapping blobs: after the farthest-point start the Lloyd steps move rows to the
    # centroid they are nearest; with no steps the labels are the start's nearest-row split
    gen = torch.Generator().manual_seed(1)
    f = torch.cat([torch.randn(30, 2, generator=gen) + torch.tensor(c)
                   for c in ((0.0, 0.0), (2.5, 0.0), (1.2, 2.2))])
    labels = _kmeans(f, 3)
    means = torch.stack([f[labels == j].mean(0) for j in range(3)])
    assert torch.equal(torch.cdist(f, means).argmin(1), labels)


def test_one_weighted_draw_picks_each_particle_as_often_as_its_weight():
    # one cluster, one pick: the systematic offset comes from the generator, so over 300 draws
    # each particle is picked about weight · 300 times (binomial sd at most 9)
    f = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1]])
    w = torch.tensor([0.5, 0.3, 0.2])
    counts = torch.zeros(3)
    for s in range(300):
        counts[draw_by_weight(f, torch.log(w), 1, torch.Generator().manual_seed(s))[0]] += 1
    assert torch.all((counts - 300 * w).abs() < 30), counts.tolist()


def test_a_repeated_draw_is_replaced_by_the_heaviest_unused_particle_of_its_cluster():
    # three separated modes and three picks, but mode 0 holds 0.99 of the weight and row 0
    # alone 0.90: two or three of the draws land on row 0, and each repeat goes to the heaviest
    # unused row of mode 0 (2, then 3), not its lightest (4, then 1)
    f, mode = _modes([5, 5, 5], [(0.0, 0.0), (6.0, 0.0), (0.0, 6.0)])
    w = torch.cat([torch.tensor([0.90, 0.01, 0.05, 0.025, 0.005]), torch.full((10,), 0.001)])
    for s in range(4):
        assert sorted(draw_by_weight(f, torch.log(w), 3, torch.Generator().manual_seed(s))) == [
            0, 2, 3]


@pytest.mark.parametrize("seed", range(4))
def test_the_draw_lays_particles_out_by_cluster_whatever_their_row_order(seed):
    # the modes of the share test with their rows shuffled: still 4, 2, 2 picks (a draw over
    # the rows in their given order would stratify over the shuffle, not the modes)
    f, mode = _modes([30, 30, 30], [(0.0, 0.0), (5.0, 0.0), (0.0, 5.0)], seed=seed)
    perm = torch.randperm(90, generator=torch.Generator().manual_seed(seed))
    f, mode = f[perm], mode[perm]
    w = torch.tensor([0.5, 0.25, 0.25])[mode] / 30
    got = draw_by_weight(f, torch.log(w), 8, torch.Generator().manual_seed(200 + seed))
    assert torch.bincount(mode[got], minlength=3).tolist() == [4, 2, 2]


def test_the_floor_gives_a_mode_answered_often_a_kept_pick_every_round():
    # mode A answered five times at one spot, mode C once: the density order gives C every
    # kept pick of the round (A looks served), so a round shows no A. With a floor of one, A's
    # region (no pick of the round within the kernel width) gets the first kept pick
    f, mode = _modes([8, 8], [(0.0, 0.0), (0.0, 6.0)], spread=0.3, seed=1)
    anchors = torch.cat([f[0:1].repeat(5, 1), f[8:9]])
    assert mode[keep_picks(f, anchors, [], 3)].tolist() == [1, 1, 1]
    first = keep_picks(f, anchors, [], 3, floor=1)
    assert mode[first].tolist() == [0, 1, 1] and first[0] == 0
    # the floor serves each unreached region once: two regions, two floor picks, whatever m
    assert sorted(mode[floor_picks(f, anchors, [], 5)].tolist()) == [0, 1]
    assert mode[keep_picks(f, anchors, [], 3, floor=3)].tolist()[:2] in ([0, 1], [1, 0])
    # a region some pick of the round already reaches gets no floor pick
    assert floor_picks(f, anchors, [0], 5) == [8]
    assert floor_picks(f, anchors, [0, 8], 5) == []
    assert floor_picks(f, anchors[:0], [], 2) == [] and floor_picks(f, anchors, [], 0) == []
    # the answers around a served one count as served even when the pick shown for it (the
    # best scored of its near rows, not row 0) lies beyond the kernel width
    score = -torch.arange(16.0)
    score[0] = -100.0
    picked = floor_picks(f, anchors, [], 5, score)
    assert len(picked) == 2 and 0 not in picked
    assert len(keep_picks(f, anchors, [], 1, floor=2)) == 1
    for bad in (-1, True, 0.5):
        with pytest.raises(ValueError, match=f"floor: expected a number of picks >= 0, got "
                                             f"{bad!r}"):
            keep_picks(f, anchors, [], 2, floor=bad)
