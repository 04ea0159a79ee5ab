/**
 * ACD routing decision time: 1,000 agents in 100 queues (each queue 50 members, each agent in 5 queues, penalties
 * 0-2), a third of the agents idle at any moment. One decision is what `QueueService.dispatch` does for a caller:
 * keep the members that are idle and not yet tried, build their candidates (position, last call, calls taken) and
 * order them by the queue's strategy, for each of app_queue's eight strategies in turn.
 *
 *   npx tsx bench/routing-bench.ts          # BENCH_DECISIONS=200000 by default
 *
 * The reference, in the same run: the same loop that only copies the idle members (no strategy), which shows how
 * much of a decision is the strategy itself.
 */
import { type Candidate, orderCandidates } from '../src/contact-center/strategies.ts';
import { queueStrategies } from '../src/db/schema.ts';

const AGENTS = 1000;
const QUEUES = 100;
const MEMBERS = 50;
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 200_000);

interface Member {
  extensionId: string;
  penalty: number;
}

let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

const agents = Array.from({ length: AGENTS }, (_, i) => ({ id: `agent-${i}`, idle: random() < 1 / 3 }));
const idle = new Map(agents.map((a) => [a.id, a.idle]));
const queues = Array.from({ length: QUEUES }, (_, q) => ({
  strategy: queueStrategies[q % queueStrategies.length] as (typeof queueStrategies)[number],
  members: Array.from({ length: MEMBERS }, (_, m): Member => ({ extensionId: `agent-${(q * 7 + m * 20) % AGENTS}`, penalty: m % 3 })),
  stats: new Map<string, { lastCallEndedAt: number; callsTaken: number }>(),
  lastPosition: -1,
}));
for (const q of queues) for (const m of q.members) q.stats.set(m.extensionId, { lastCallEndedAt: Math.floor(random() * 1e9), callsTaken: Math.floor(random() * 100) });

function decide(q: (typeof queues)[number], tried: Set<string>, withStrategy: boolean): number {
  const fresh = q.members.filter((m) => idle.get(m.extensionId) && !tried.has(m.extensionId));
  if (!withStrategy) return fresh.length;
  const candidates: Candidate[] = fresh.map((m) => ({
    extensionId: m.extensionId,
    penalty: m.penalty,
    position: q.members.indexOf(m),
    lastCallEndedAt: q.stats.get(m.extensionId)?.lastCallEndedAt ?? 0,
    callsTaken: q.stats.get(m.extensionId)?.callsTaken ?? 0,
  }));
  const order = orderCandidates(q.strategy, candidates, { lastPosition: q.lastPosition }, random);
  if (order[0]) q.lastPosition = order[0].position;
  return order.length;
}

function run(withStrategy: boolean): number[] {
  const times: number[] = [];
  const tried = new Set<string>();
  let sink = 0;
  for (let i = 0; i < DECISIONS; i++) {
    const q = queues[i % QUEUES] as (typeof queues)[number];
    // Agents come and go between decisions, as calls start and end.
    const flip = agents[Math.floor(random() * AGENTS)] as (typeof agents)[number];
    idle.set(flip.id, !idle.get(flip.id));
    const t0 = process.hrtime.bigint();
    sink += decide(q, tried, withStrategy);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (sink < 0) console.log(sink);
  return times.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
run(true); // warm-up
const reference = run(false);
const acd = run(true);
const fmt = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
console.log(`${AGENTS} agents, ${QUEUES} queues of ${MEMBERS} members, ${DECISIONS} decisions, strategies ${queueStrategies.join(', ')}`);
console.log(`idle filter only (reference)  p50 ${fmt(pct(reference, 50))}  p99 ${fmt(pct(reference, 99))}  max ${fmt(pct(reference, 100))}`);
console.log(`ACD decision                  p50 ${fmt(pct(acd, 50))}  p99 ${fmt(pct(acd, 99))}  max ${fmt(pct(acd, 100))}`);
console.log(`ratio p99 decision / idle filter: ${(pct(acd, 99) / pct(reference, 99)).toFixed(2)}  (goal: p99 under 2 ms)`);
