/**
 * The JetStream stream that holds trace trees, and its retention limits. Whoever finds the stream missing
 * creates it with `traceStreamConfig(name)`: the watchdog's publisher (publisher.ts) and the provider's
 * consumer, so both make the same stream whichever comes first. This file loads no NATS code (the types are
 * erased), so the provider and watchdog/index.ts can export it without loading the NATS client.
 *
 * Why these limits: each tree a replica publishes contains its earlier ones, so only the newest trees of a
 * subject (one function) matter; the provider's durable consumer merges them and keeps the merged tree
 * itself. The limits only stop a stream nobody consumes from growing for ever:
 *
 * - `max_msgs_per_subject` 64: the newest 64 trees of each function (across its replicas).
 * - `max_age` 7 days: a function gone for a week leaves nothing behind.
 * - `max_bytes` 1 GiB for the whole stream; `discard: old` makes room by dropping the oldest trees, so a
 *   publish never fails because the stream is full.
 * - `duplicate_window` 2 minutes: a tree retried with the same `Nats-Msg-Id` (`<replica>:<seq>`) within it
 *   is stored once.
 *
 * A stream that exists already keeps its configuration when it has any limit set (an operator's choice
 * wins); one with no limit at all, as earlier versions created it, is given these.
 */
import type { StreamConfig } from '@nats-io/jetstream';

/** The subjects of the stream: `containerless.traces.<namespace>.<function>`. */
export const TRACE_SUBJECTS = 'containerless.traces.>';
/** The stream's default name (`trace_stream`). */
export const TRACE_STREAM = 'CONTAINERLESS_TRACES';

const NANOS_PER_MS = 1_000_000;

/** Seven days, in milliseconds. */
export const TRACE_STREAM_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** Trees kept per subject (per function). */
export const TRACE_STREAM_MAX_MSGS_PER_SUBJECT = 64;
/** 1 GiB for the whole stream. */
export const TRACE_STREAM_MAX_BYTES = 1024 * 1024 * 1024;
/** Two minutes, in milliseconds. */
export const TRACE_STREAM_DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** The stream's configuration (JetStream's field names; durations in nanoseconds). */
export function traceStreamConfig(
  name: string = TRACE_STREAM,
): Pick<StreamConfig, 'name' | 'subjects' | 'max_age' | 'max_msgs_per_subject' | 'max_bytes' | 'discard' | 'duplicate_window'> {
  return {
    name,
    subjects: [TRACE_SUBJECTS],
    max_age: TRACE_STREAM_MAX_AGE_MS * NANOS_PER_MS,
    max_msgs_per_subject: TRACE_STREAM_MAX_MSGS_PER_SUBJECT,
    max_bytes: TRACE_STREAM_MAX_BYTES,
    discard: 'old',
    duplicate_window: TRACE_STREAM_DUPLICATE_WINDOW_MS * NANOS_PER_MS,
  };
}

/** True when a stream's configuration sets none of the limits (as earlier versions created it). */
export function hasNoLimits(c: Partial<Pick<StreamConfig, 'max_age' | 'max_msgs_per_subject' | 'max_bytes' | 'max_msgs'>>): boolean {
  const unlimited = (n: number | undefined): boolean => n === undefined || n <= 0;
  return unlimited(c.max_age) && unlimited(c.max_msgs_per_subject) && unlimited(c.max_bytes) && unlimited(c.max_msgs);
}
