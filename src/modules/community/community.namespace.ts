import { AppError } from '../../platform/errors.js';
import { socketEvent, type PushSpec, type SocketEventSpec } from '../../transport/socket/namespace.js';
import { ImageLikesPush, ImageWatchAck, ImageWatchPayload } from './community.schemas.js';
import type { CommunityService } from './community.service.js';

/** Room on `/` whose members get `image:likes` for one image; with the Redis adapter it spans nodes. */
export function imageRoom(imageId: number): string {
  return `image:${imageId}`;
}

/** Bounds the rooms one socket can hold open (each is a Redis adapter subscription entry). */
export const MAX_WATCHED_IMAGES = 200;

/** Events the community domain adds to the root namespace `/`. */
export function communityRootEvents(community: CommunityService): { events: SocketEventSpec[]; pushes: PushSpec[] } {
  return {
    events: [
      socketEvent({
        event: 'image:watch',
        summary: 'Watch an active image; acks its current like_count and seq, then pushes image:likes when it changes (at most one per image per coalescing window)',
        schema: ImageWatchPayload,
        reply: ImageWatchAck,
        handler: async ({ imageId }, { socket, em }) => {
          const room = imageRoom(imageId);
          const watching = [...socket.rooms].filter((r) => r.startsWith('image:')).length;
          if (!socket.rooms.has(room) && watching >= MAX_WATCHED_IMAGES) {
            throw new AppError(429, 'too_many_watches', `a socket may watch at most ${MAX_WATCHED_IMAGES} images`);
          }
          // Join before reading: a change committed in between is then pushed rather than lost, and
          // its seq tells the client whether the push or this ack is newer.
          const joined = socket.rooms.has(room);
          await socket.join(room);
          try {
            return { imageId, ...(await community.likeState(em, imageId)) };
          } catch (err) {
            if (!joined) await socket.leave(room);
            throw err;
          }
        },
      }),
      socketEvent({
        event: 'image:unwatch',
        summary: 'Stop watching an image (not an error if it was not watched)',
        schema: ImageWatchPayload,
        handler: async ({ imageId }, { socket }) => {
          await socket.leave(imageRoom(imageId));
          return { imageId };
        },
      }),
    ],
    pushes: [{ event: 'image:likes', summary: 'A watched image was liked or unliked: its new like_count', schema: ImageLikesPush }],
  };
}
