//! The switch metrics: one-way switches by yield between two threads of
//! one program (with or without SSE state) and between two programs,
//! checked to have really alternated with the partner.

use super::*;

/// Ticks of `n / 2` yields (each with an SSE instruction first if
/// `uses_vector`): with a partner yielding back, `n` one-way switches.
fn yield_loop(n: u64, uses_vector: bool) -> u64 {
    let mut value = 1_u64;
    let ticks = timed_loop(n / 2, || {
        if uses_vector {
            value = vector::touch(value);
        }
        os::yield_now();
    });
    core::hint::black_box(value);
    ticks
}

/// Yields before timing, so a scheduler that lets a new thread wait
/// (Linux's CFS places it a slice behind) has settled into alternation.
const WARM_UP_YIELDS: u64 = 20_000;

/// Times yields to a partner: `start` starts it, `rounds` reads how many
/// times it yielded (where this side can see it), `stop` ends it.
///
/// Checks that the partner ran: where its rounds are visible, it must
/// have yielded at least 9/10 as often as this side in the timed loops;
/// in any case a switch must cost at least 3/4 of a lone yield, timed
/// first (a yield to nobody returns at once: were the partner not running,
/// the figure per "switch" would be half a lone yield's).
fn time_switches<P>(
    name: &'static str,
    plan: Plan,
    uses_vector: bool,
    start: impl FnOnce() -> Result<P, os::Error>,
    rounds: impl Fn(&P) -> Option<u64>,
    stop: impl FnOnce(P) -> Result<(), os::Error>,
) -> Result<(), Failure> {
    let alone = measure::repeat::<Failure>(plan, |n| Ok(yield_loop(n, uses_vector) * 2))?;
    let partner = start().map_err(|e| Failure::os("start the partner", e))?;
    yield_loop(WARM_UP_YIELDS * 2, uses_vector);
    let before = rounds(&partner);
    let stats = measure::repeat::<Failure>(plan, |n| Ok(yield_loop(n, uses_vector)));
    let partner_rounds = rounds(&partner).zip(before).map(|(a, b)| a.wrapping_sub(b));
    stop(partner).map_err(|e| Failure::os("stop the partner", e))?;
    let stats = stats?;
    let my_yields = stats.plan.iterations / 2 * stats.plan.reps as u64;
    if let Some(partner_rounds) = partner_rounds {
        if partner_rounds * 10 < my_yields * 9 {
            return Err(Failure::PartnerLagged(partner_rounds, my_yields));
        }
    }
    if stats.median.0 * 4 < alone.median.0 * 3 {
        return Err(Failure::PartnerIdle(stats.median.0, alone.median.0));
    }
    stats.print(name);
    Ok(())
}

/// One-way switches between this thread and a partner thread.
pub(super) fn yield_between_threads(
    name: &'static str,
    sizes: &Sizes,
    uses_vector: bool,
) -> Result<(), Failure> {
    time_switches(
        name,
        sizes.switches,
        uses_vector,
        || os::ThreadPartner::start(uses_vector),
        os::ThreadPartner::rounds,
        os::ThreadPartner::stop,
    )
}

/// One-way switches between this program and a partner program.
pub(super) fn yield_between_smachs(name: &'static str, sizes: &Sizes) -> Result<(), Failure> {
    time_switches(
        name,
        sizes.switches,
        false,
        os::ProcessPartner::start,
        os::ProcessPartner::rounds,
        os::ProcessPartner::stop,
    )
}
