/**
 * Every payload the SDK sends or receives, typed from the zod schemas the hub validates with. Only types are
 * imported (erased at build time), and only from pure schema modules, so the SDK bundles no server code and
 * a renamed field on the server breaks this build.
 */
import type { z } from 'zod';
import type { ImageLikesPush, ImagePage, ImageResponse, ImageStats, ImageWatchAck, ImageWatchPayload, LikeResponse, RandomImages, TopImages } from '../modules/community/community.schemas.js';
import type { GuestResponse, RegisterBody, TokenResponse, UserResponse, MePatchBody } from '../modules/identity/identity.schemas.js';
import type { DonePush, FailedPush, JobDto, JobPage, JobUnwatchPayload, JobWatchPayload, ProgressPush, WatchAck } from '../modules/jobs/jobs.dto.js';
import type { PhotoJobResponse, PhotoListResponse, PhotoResponse } from '../modules/photos/photos.dto.js';
import type { StoredMediaResponse } from '../modules/media/media.schemas.js';
import type { JobType } from '../modules/jobs/jobs.events.js';
import type {
  CreateEventBody,
  EventDto,
  EventJoinAck,
  EventJoinPayload,
  EventLeavePayload,
  EventPage,
  EventSummary,
  EventVoteAck,
  EventVotePayload,
  FinishedPush,
  MatchupDto as EventMatchupDto,
  MatchupPush,
  ResultPush,
  TallyPush,
  EventImage,
} from '../modules/tournaments/events.schemas.js';
import type { LeaderboardPage, LeaderboardUpdate, LeaderboardWatchPayload, MatchupResponse, VotePayload, VoteResult } from '../modules/tournaments/tournaments.schemas.js';
import type { StudioDone, StudioDelta, StudioMessage, StudioOpenAck, StudioOpenPayload, StudioProgress, StudioSendAck, StudioSendPayload } from './studio-contract.js';

type Out<S extends z.ZodType> = z.output<S>;
type In<S extends z.ZodType> = z.input<S>;

// ---------- HTTP shapes ----------
export type TokenPair = Out<typeof TokenResponse>;
export type GuestToken = Out<typeof GuestResponse>;
export type User = Out<typeof UserResponse>;
export type RegisterInput = In<typeof RegisterBody>;
export type MePatch = In<typeof MePatchBody>;
export type Image = Out<typeof ImageResponse>;
export type ImagePageDto = Out<typeof ImagePage>;
export type RandomImagesDto = Out<typeof RandomImages>;
export type TopImagesDto = Out<typeof TopImages>;
export type ImageStatsDto = Out<typeof ImageStats>;
export type Like = Out<typeof LikeResponse>;
export type Job = Out<typeof JobDto>;
export type { JobType };
export type StoredMedia = Out<typeof StoredMediaResponse>;
export type JobPageDto = Out<typeof JobPage>;
export type Photo = Out<typeof PhotoResponse>;
export type PhotoPage = Out<typeof PhotoListResponse>;
export type PhotoJob = Out<typeof PhotoJobResponse>;
export type LiveEvent = Out<typeof EventDto>;
export type LiveEventSummary = Out<typeof EventSummary>;
export type LiveEventPage = Out<typeof EventPage>;
export type LiveEventMatchup = Out<typeof EventMatchupDto>;
export type LiveEventImage = Out<typeof EventImage>;
export type CreateEventInput = In<typeof CreateEventBody>;
export type QuickMatchup = Out<typeof MatchupResponse>['matchup'];
export type Leaderboard = Out<typeof LeaderboardPage>;
export type LeaderboardItem = Leaderboard['items'][number];
export type VoteOutcome = Out<typeof VoteResult>;
export type { StudioMessage };

// ---------- socket pushes ----------
export type JobProgressPush = Out<typeof ProgressPush>;
export type JobDonePush = Out<typeof DonePush>;
export type JobFailedPush = Out<typeof FailedPush>;
export type JobWatchAck = Out<typeof WatchAck>;
export type EventMatchupPush = Out<typeof MatchupPush>;
export type EventTallyPush = Out<typeof TallyPush>;
export type EventResultPush = Out<typeof ResultPush>;
export type EventFinishedPush = Out<typeof FinishedPush>;
export type EventJoinReply = Out<typeof EventJoinAck>;
export type ImageLikes = Out<typeof ImageLikesPush>;

/** Client → server events of each namespace: `[payload, ack data]`. */
export interface EmitMap {
  '/': {
    'auth:refresh': [{ token: string }, { expiresAt: number | null }];
    'job:watch': [In<typeof JobWatchPayload>, JobWatchAck];
    'job:unwatch': [In<typeof JobUnwatchPayload>, { jobId: string }];
    'image:watch': [In<typeof ImageWatchPayload>, Out<typeof ImageWatchAck>];
    'image:unwatch': [In<typeof ImageWatchPayload>, unknown];
  };
  '/tournament': {
    'auth:refresh': [{ token: string }, { expiresAt: number | null }];
    'match:next': [Record<string, never>, Out<typeof MatchupResponse>];
    'match:vote': [In<typeof VotePayload>, VoteOutcome];
    'leaderboard:watch': [In<typeof LeaderboardWatchPayload>, Leaderboard];
    'leaderboard:unwatch': [Record<string, never>, { watching: false }];
    'event:join': [In<typeof EventJoinPayload>, EventJoinReply];
    'event:leave': [In<typeof EventLeavePayload>, { eventId: number }];
    'event:vote': [In<typeof EventVotePayload>, Out<typeof EventVoteAck>];
  };
  '/studio': {
    'auth:refresh': [{ token: string }, { expiresAt: number | null }];
    'session:open': [StudioOpenPayload, StudioOpenAck];
    'message:send': [StudioSendPayload, StudioSendAck];
    'session:close': [{ sessionId?: string | null }, { sessionId: string | null }];
  };
}

/** Server → client pushes of each namespace. */
export interface PushMap {
  '/': {
    'job:progress': JobProgressPush;
    'job:done': JobDonePush;
    'job:failed': JobFailedPush;
    'job:delta': { jobId: string; text: string };
    'image:likes': ImageLikes;
    'auth:expired': { reason: string; message: string };
    'server:shutdown': { reconnect: boolean; reason: string };
  };
  '/tournament': {
    'leaderboard:update': Out<typeof LeaderboardUpdate>;
    'event:matchup': EventMatchupPush;
    'event:tally': EventTallyPush;
    'event:result': EventResultPush;
    'event:finished': EventFinishedPush;
    'auth:expired': { reason: string; message: string };
    'server:shutdown': { reconnect: boolean; reason: string };
  };
  '/studio': {
    'message:delta': StudioDelta;
    'message:done': StudioDone;
    'job:progress': StudioProgress;
    'job:done': JobDonePush;
    'job:failed': JobFailedPush;
    'auth:expired': { reason: string; message: string };
    'server:shutdown': { reconnect: boolean; reason: string };
  };
}

export type Namespace = keyof EmitMap;
export type EmitName<N extends Namespace> = keyof EmitMap[N] & string;
export type EmitPayload<N extends Namespace, E extends EmitName<N>> = EmitMap[N][E] extends [infer P, unknown] ? P : never;
export type EmitReply<N extends Namespace, E extends EmitName<N>> = EmitMap[N][E] extends [unknown, infer R] ? R : never;
export type PushName<N extends Namespace> = keyof PushMap[N] & string;
export type PushPayload<N extends Namespace, E extends PushName<N>> = PushMap[N][E];
