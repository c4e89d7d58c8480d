import type { Server } from 'socket.io';

/**
 * Typed pushes for services: they name a user and an event, never a socket.io object. Through the
 * Redis adapter a push reaches the user's sockets on every node.
 */
export interface Notifier {
  toUser(userId: number, event: string, payload: unknown): void;
  toRoom(namespace: string, room: string, event: string, payload: unknown): void;
}

export function createNotifier(io: Server): Notifier {
  return {
    toUser(userId, event, payload) {
      io.of('/').to(`user:${userId}`).emit(event, payload);
    },
    toRoom(namespace, room, event, payload) {
      io.of(namespace).to(room).emit(event, payload);
    },
  };
}
