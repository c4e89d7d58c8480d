import { useState } from 'preact/hooks';
import { easel, message } from '../state.js';
import { ErrorBox } from '../ui.js';

const REASONS: Record<string, string> = {
  signed_out: 'You signed out.',
  token_expired: 'Your session expired. Sign in again.',
  refresh_revoked: 'Your session was ended (signed in elsewhere or revoked). Sign in again.',
  refresh_invalid: 'Your session ended. Sign in again.',
  refresh_expired: 'Your session expired. Sign in again.',
};

/** Sign in, register, or continue as a guest. `upgrading`: a guest signing up keeps their studio sessions. */
export function AuthScreen({ reason, upgrading = false }: { reason: string | null; upgrading?: boolean }) {
  const [mode, setMode] = useState<'signin' | 'register'>(upgrading ? 'register' : 'signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'register') await easel.register({ username, password });
      else await easel.signIn(username, password);
      if (location.hash.startsWith('#/signin')) location.hash = '#/feed';
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  async function guest() {
    setBusy(true);
    setError(null);
    try {
      await easel.continueAsGuest();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="auth card" aria-labelledby="auth-title">
      <h1 id="auth-title">{mode === 'register' ? 'Create your Easel account' : 'Sign in to Easel'}</h1>
      {reason && REASONS[reason] && <p class="note">{REASONS[reason]}</p>}
      {upgrading && <p class="note">Your guest studio chats move to the new account.</p>}
      <form onSubmit={submit}>
        <label>
          Username
          <input name="username" autoComplete="username" required minLength={3} maxLength={50} value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete={mode === 'register' ? 'new-password' : 'current-password'} required minLength={mode === 'register' ? 8 : 1} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Please wait…' : mode === 'register' ? 'Create account' : 'Sign in'}
        </button>
      </form>
      <p>
        <button type="button" class="linklike" onClick={() => setMode(mode === 'register' ? 'signin' : 'register')}>
          {mode === 'register' ? 'I have an account: sign in' : 'New here? Create an account'}
        </button>
      </p>
      {!upgrading && (
        <p>
          <button type="button" id="guest" onClick={() => void guest()} disabled={busy}>
            Continue as guest
          </button>
        </p>
      )}
    </section>
  );
}
