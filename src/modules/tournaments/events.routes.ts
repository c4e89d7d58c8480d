import { json, route, type AnyRoute } from '../../transport/http/types.js';
import { CreateEventBody, EventDto, EventPage, EventParams, EventSummary, ListEventsQuery } from './events.schemas.js';
import type { EventsService } from './events.service.js';

const tags = ['events'];
const base = '/api/v1/events';

/** Live bracket events: admins create and start them; anyone may read them (viewers join over `/tournament`). */
export function eventsRoutes(events: EventsService): AnyRoute[] {
  return [
    route({
      method: 'POST',
      path: base,
      summary: 'Create an upcoming event: 8/16/32/64 entrants (top-rated, random opted-in, or a list), vote window, grace, sealed tallies (admin)',
      tags,
      auth: 'admin',
      body: CreateEventBody,
      responses: { 201: EventDto },
      handler: async ({ actor, em, body }) => {
        const event = await events.create(em, actor, body);
        return json(event, 201, { location: `${base}/${event.id}` });
      },
    }),
    route({
      method: 'POST',
      path: `${base}/:id/start`,
      summary: 'Start an upcoming event; the server runs its clock from here (admin; 409 if already started)',
      tags,
      auth: 'admin',
      params: EventParams,
      responses: { 200: EventSummary },
      handler: async ({ em, params }) => json(await events.start(em, params.id)),
    }),
    route({
      method: 'GET',
      path: base,
      summary: 'Events newest first, optionally by status (upcoming, live, finished); cursor pagination',
      tags,
      auth: 'optional',
      query: ListEventsQuery,
      responses: { 200: EventPage },
      handler: async ({ em, query }) => json(await events.list(em, query)),
    }),
    route({
      method: 'GET',
      path: `${base}/:id`,
      summary: 'One event: entrants, full bracket, current matchup, tallies (hidden while open if sealed), server time',
      tags,
      auth: 'optional',
      params: EventParams,
      responses: { 200: EventDto },
      handler: async ({ em, params }) => json(await events.get(em, params.id), 200, { 'cache-control': 'no-store' }),
    }),
  ];
}
