/**
 * `/studio` payloads and studio HTTP shapes, typed from the studio module's schemas. Type-only imports: they
 * are erased at build time, so no server code reaches a bundle (studio.schemas.ts itself imports the
 * server's cursor codec, which is why nothing here imports it at run time).
 */
import type { z } from 'zod';
import type {
  DeltaPush,
  DonePush,
  GenerationDto,
  GenerationsPage,
  MessageDto,
  MessageSendAck,
  MessageSendPayload,
  MessagesPage,
  SessionCreated,
  SessionDto,
  SessionOpenAck,
  SessionOpenPayload,
  SessionsPage,
  StudioProgressPush,
  GenerateResponse,
} from '../modules/studio/studio.schemas.js';
import type { AD_STYLES, ASPECT_RATIOS, GENERATION_TYPES } from '../modules/studio/studio.job-schemas.js';

export type GenerationType = (typeof GENERATION_TYPES)[number];
export type AdStyle = (typeof AD_STYLES)[number];
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

export type StudioMessage = z.output<typeof MessageDto>;
export type StudioSession = z.output<typeof SessionDto>;
export type StudioOpenPayload = z.input<typeof SessionOpenPayload>;
export type StudioOpenAck = z.output<typeof SessionOpenAck>;
export type StudioSendPayload = z.input<typeof MessageSendPayload>;
export type StudioSendAck = z.output<typeof MessageSendAck>;
export type StudioDelta = z.output<typeof DeltaPush>;
export type StudioDone = z.output<typeof DonePush>;
export type StudioProgress = z.output<typeof StudioProgressPush>;
export type Generation = z.output<typeof GenerationDto>;
export type GenerationPage = z.output<typeof GenerationsPage>;
export type StudioMessagePage = z.output<typeof MessagesPage>;
export type StudioSessionPage = z.output<typeof SessionsPage>;
export type StudioSessionCreated = z.output<typeof SessionCreated>;
export type GenerateAccepted = z.output<typeof GenerateResponse>;
