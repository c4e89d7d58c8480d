import type { EntityManager } from '../../platform/db/orm.js';
import { ForbiddenError, NotFoundError } from '../../platform/errors.js';
import type { UserActor } from '../identity/actor.js';
import { decodeCursor, encodeCursor } from './community.cursor.js';
import { Image, type ImageEntity } from './community.entity.js';
import { TOP_WINDOWS, type CreateImageFields, type ImageDto, type ImageStatsDto, type LikeDto, type LikesChange, type PatchImageBody, type TopWindow } from './community.schemas.js';
import { IMAGE_COLUMNS, IMAGE_FROM, LIKE_SQL, UNLIKE_SQL, toImageDto, type ImageRow, type LikeChangeRow, type UrlFor } from './community.sql.js';

/** Who is looking: a signed-in user sees `liked_by_me`, owners and admins also see their deleted images. */
export type Viewer = { userId: number; role: 'user' | 'admin' } | null;

export interface CommunityDeps {
  urlFor: UrlFor;
  /** Called after a like or unlike changed the count (committed); the app fans it out to watchers. */
  onLikesChanged: (change: LikesChange) => void;
  /** The `tournament` part of an image's stats (tournaments module); absent: null. */
  tournamentStats?: (em: EntityManager, imageId: number) => Promise<ImageStatsDto['tournament']>;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type CommunityService = ReturnType<typeof createCommunityService>;

const imageMissing = (id: number) => new NotFoundError(`image ${id} not found`, 'image_not_found');

export function createCommunityService(deps: CommunityDeps) {
  const dto = (row: ImageRow, viewer: Viewer) => toImageDto(row, deps.urlFor, viewer !== null);

  async function selectOne(em: EntityManager, id: number, viewer: Viewer): Promise<ImageRow | null> {
    const rows = await em.execute<ImageRow[]>(`select ${IMAGE_COLUMNS} from ${IMAGE_FROM} where i.id = ?`, [viewer?.userId ?? 0, id]);
    return rows[0] ?? null;
  }

  /** Authorization lives here, not in routes: only the owner or an admin changes an image. */
  function assertCanModify(actor: UserActor, image: ImageEntity): void {
    if (image.userId !== actor.userId && actor.role !== 'admin') {
      throw new ForbiddenError('only the owner or an admin may change this image', 'not_image_owner');
    }
  }

  async function loadActive(em: EntityManager, id: number): Promise<ImageEntity> {
    const image = await em.findOne(Image, { id });
    if (!image || !image.active) throw imageMissing(id);
    return image;
  }

  /** Deleted images are 404 to everyone but their owner and admins. */
  async function get(em: EntityManager, id: number, viewer: Viewer): Promise<ImageDto> {
    const row = await selectOne(em, id, viewer);
    if (!row || (!row.active && viewer?.userId !== row.user_id && viewer?.role !== 'admin')) throw imageMissing(id);
    return dto(row, viewer);
  }

  /** Runs LIKE_SQL or UNLIKE_SQL (autocommit, so committed on return) and reports a real change. */
  async function changeLike(em: EntityManager, statement: string, actor: UserActor, id: number): Promise<LikeChangeRow> {
    const [row] = await em.execute<LikeChangeRow[]>(statement, [id, actor.userId]);
    if (!row) throw imageMissing(id);
    if (row.changed) deps.onLikesChanged({ imageId: id, like_count: row.like_count, seq: row.seq });
    return row;
  }

  return {
    async create(em: EntityManager, actor: UserActor, mediaSha256: string, fields: CreateImageFields): Promise<ImageDto> {
      const image = em.create(Image, {
        userId: actor.userId,
        mediaSha256,
        prompt: fields.prompt,
        modelName: fields.model_name,
        tournamentOptIn: fields.tournament_opt_in,
        active: true,
        likeCount: 0,
        deletedAt: null,
      });
      await em.flush();
      const row = await selectOne(em, image.id, actor);
      return dto(row!, actor);
    },

    get,

    /** Newest first, keyset-paginated on (created_at, id) so pages stay stable while posts arrive. */
    async list(em: EntityManager, viewer: Viewer, q: { limit: number; cursor?: string | undefined; user_id?: number | undefined }): Promise<Page<ImageDto>> {
      const after = q.cursor ? decodeCursor(q.cursor) : null;
      const where = ['i.active'];
      const params: unknown[] = [viewer?.userId ?? 0];
      if (q.user_id !== undefined) {
        where.push('i.user_id = ?');
        params.push(q.user_id);
      }
      if (after) {
        where.push('(i.created_at, i.id) < (?::timestamptz, ?)');
        params.push(after.createdAt.toISOString(), after.id);
      }
      params.push(q.limit + 1);
      const rows = await em.execute<ImageRow[]>(
        `select ${IMAGE_COLUMNS} from ${IMAGE_FROM} where ${where.join(' and ')} order by i.created_at desc, i.id desc limit ?`,
        params,
      );
      const more = rows.length > q.limit;
      const page = more ? rows.slice(0, q.limit) : rows;
      const last = page[page.length - 1];
      return {
        items: page.map((r) => dto(r, viewer)),
        next_cursor: more && last ? encodeCursor({ createdAt: new Date(last.created_at), id: last.id }) : null,
      };
    },

    /**
     * Up to `limit` distinct random active images. Instead of `order by random()` over the table it
     * probes random points of the id range through the partial index (a few index lookups per item).
     * Ids after a gap of deleted rows are a little likelier; for a feed that is an acceptable bias.
     * A small table that the probes could not cover falls back to sorting what is left.
     */
    async random(em: EntityManager, viewer: Viewer, limit: number): Promise<ImageDto[]> {
      const probes = limit * 3;
      const picked = await em.execute<ImageRow[]>(
        `with bounds as (select min(id) as lo, max(id) as hi from images where active),
              points as (select distinct lo + floor(random() * (hi - lo + 1))::int as p from bounds, generate_series(1, ?) where lo is not null),
              hits as (select distinct h.id from points cross join lateral (select id from images where active and id >= points.p order by id limit 1) h)
         select ${IMAGE_COLUMNS} from ${IMAGE_FROM} where i.id in (select id from hits) limit ?`,
        [probes, viewer?.userId ?? 0, limit],
      );
      let rows = picked;
      if (rows.length < limit) {
        const have = rows.map((r) => r.id);
        const rest = await em.execute<ImageRow[]>(
          `select ${IMAGE_COLUMNS} from ${IMAGE_FROM} where i.active and not (i.id = any(?::int[])) order by random() limit ?`,
          [viewer?.userId ?? 0, `{${have.join(',')}}`, limit - rows.length],
        );
        rows = [...rows, ...rest];
      }
      return shuffle(rows).map((r) => dto(r, viewer));
    },

    /** Most liked by likes received inside the window (not lifetime totals); ties go to the lifetime count. */
    async top(em: EntityManager, viewer: Viewer, window: TopWindow, limit: number): Promise<(ImageDto & { window_likes: number })[]> {
      const rows = await em.execute<(ImageRow & { window_likes: number })[]>(
        `select ${IMAGE_COLUMNS}, t.window_likes
         from ${IMAGE_FROM}
         join (select image_id, count(*)::int as window_likes from image_likes
               where created_at >= now() - ?::interval group by image_id) t on t.image_id = i.id
         where i.active
         order by t.window_likes desc, i.like_count desc, i.id desc
         limit ?`,
        [viewer?.userId ?? 0, TOP_WINDOWS[window], limit],
      );
      return rows.map((r) => ({ ...dto(r, viewer), window_likes: r.window_likes }));
    },

    async update(em: EntityManager, actor: UserActor, id: number, patch: PatchImageBody): Promise<ImageDto> {
      const image = await loadActive(em, id);
      assertCanModify(actor, image);
      if (patch.prompt !== undefined) image.prompt = patch.prompt;
      if (patch.model_name !== undefined) image.modelName = patch.model_name === '' ? null : patch.model_name;
      if (patch.tournament_opt_in !== undefined) image.tournamentOptIn = patch.tournament_opt_in;
      await em.flush();
      return dto((await selectOne(em, id, actor))!, actor);
    },

    /**
     * Soft delete: the row stays (votes and history reference it) but `active` false takes it out of
     * feeds, likes and tournament draws. Deleting twice is fine for whoever may delete it.
     */
    async remove(em: EntityManager, actor: UserActor, id: number): Promise<void> {
      const image = await em.findOne(Image, { id });
      if (!image || (!image.active && image.userId !== actor.userId && actor.role !== 'admin')) throw imageMissing(id);
      assertCanModify(actor, image);
      if (!image.active) return;
      image.active = false;
      image.deletedAt = new Date();
      await em.flush();
    },

    /**
     * Idempotent like in one round trip (LIKE_SQL): checks the image is active, inserts unless already
     * liked and returns the new count. Own images may be liked, as before.
     */
    async like(em: EntityManager, actor: UserActor, id: number): Promise<LikeDto> {
      return likeDto(await changeLike(em, LIKE_SQL, actor, id), id, true);
    },

    async unlike(em: EntityManager, actor: UserActor, id: number): Promise<LikeDto> {
      return likeDto(await changeLike(em, UNLIKE_SQL, actor, id), id, false);
    },

    /** For `image:watch`: the current count and seq of an active image, or 404. */
    async likeState(em: EntityManager, id: number): Promise<{ like_count: number; seq: number }> {
      const rows = await em.execute<{ like_count: number; seq: number }[]>('select like_count, likes_seq::float8 as seq from images where id = ? and active', [id]);
      if (!rows[0]) throw imageMissing(id);
      return rows[0];
    },

    async stats(em: EntityManager, viewer: Viewer, id: number): Promise<ImageStatsDto> {
      const image = await get(em, id, viewer);
      const [recent] = await em.execute<{ n: number }[]>(`select count(*)::int as n from image_likes where image_id = ? and created_at >= now() - interval '24 hours'`, [id]);
      const tournament = deps.tournamentStats ? await deps.tournamentStats(em, id) : null;
      return { image_id: id, like_count: image.like_count, likes_24h: recent?.n ?? 0, tournament };
    },
  };
}

function likeDto(row: LikeChangeRow, id: number, liked: boolean): LikeDto {
  return { image_id: id, liked, like_count: row.like_count, seq: row.seq };
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
