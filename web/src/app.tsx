import { AuthScreen } from './screens/auth.js';
import { ArenaScreen } from './screens/arena.js';
import { EventScreen, EventsScreen } from './screens/events.js';
import { FeedScreen } from './screens/feed.js';
import { PhotosScreen } from './screens/photos.js';
import { StudioScreen } from './screens/studio.js';
import { easel, useAuth, useHashRoute, useLink } from './state.js';
import { LinkBanner } from './ui.js';

const NAV: [string, string][] = [
  ['feed', 'Feed'],
  ['arena', 'Arena'],
  ['events', 'Events'],
  ['studio', 'Studio'],
  ['photos', 'My photos'],
];

const KNOWN = new Set(['signin', ...NAV.map(([id]) => id)]);

export function App() {
  const auth = useAuth();
  const link = useLink();
  const [screen, arg] = useHashRoute();
  if (auth.state === 'signed-out') {
    return (
      <main class="shell">
        <AuthScreen reason={auth.reason} />
      </main>
    );
  }
  const guest = auth.state === 'guest';
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/feed">
          Easel
        </a>
        <nav aria-label="Main">
          {NAV.map(([id, label]) => (
            <a key={id} href={`#/${id}`} aria-current={screen === id ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="who">
          {guest ? (
            <a href="#/signin" class="button small">
              Sign up
            </a>
          ) : null}
          <button type="button" class="small" onClick={() => void easel.signOut()}>
            {guest ? 'Leave' : 'Sign out'}
          </button>
        </div>
      </header>
      <LinkBanner link={link} />
      <main>
        {screen === 'signin' && <AuthScreen reason={null} upgrading />}
        {screen === 'feed' && <FeedScreen guest={guest} />}
        {screen === 'arena' && <ArenaScreen guest={guest} />}
        {screen === 'events' && (arg ? <EventScreen id={Number(arg)} guest={guest} /> : <EventsScreen />)}
        {screen === 'studio' && <StudioScreen />}
        {screen === 'photos' && <PhotosScreen guest={guest} />}
        {!KNOWN.has(screen ?? '') && <FeedScreen guest={guest} />}
      </main>
    </div>
  );
}
