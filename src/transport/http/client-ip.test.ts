import { describe, expect, it } from 'vitest';
import { TrustedProxies, clientIp } from './client-ip.js';

const xff = (v: string) => ({ 'x-forwarded-for': v });

describe('clientIp', () => {
  const none = new TrustedProxies([]);
  const lb = new TrustedProxies(['10.0.0.0/8', '192.0.2.1', 'fd00::/8']);

  it('is the TCP peer when no proxy is trusted, whatever the header says', () => {
    expect(clientIp(xff('1.2.3.4'), '203.0.113.9', none)).toBe('203.0.113.9');
    expect(clientIp({}, '::ffff:203.0.113.9', none)).toBe('203.0.113.9');
  });

  it('ignores the header from an untrusted peer even when proxies are configured', () => {
    expect(clientIp(xff('1.2.3.4'), '203.0.113.9', lb)).toBe('203.0.113.9');
  });

  it('from a trusted peer, takes the right-most address that is not itself trusted', () => {
    expect(clientIp(xff('198.51.100.7'), '10.1.1.1', lb)).toBe('198.51.100.7');
    expect(clientIp(xff('6.6.6.6, 198.51.100.7'), '10.1.1.1', lb)).toBe('198.51.100.7'); // left entries are the client's own words
    expect(clientIp(xff('6.6.6.6, 198.51.100.7, 10.2.2.2, 192.0.2.1'), '::ffff:10.1.1.1', lb)).toBe('198.51.100.7');
    expect(clientIp(xff('2001:db8::5, fd00::1'), 'fd00::2', lb)).toBe('2001:db8::5');
  });

  it('falls back sensibly on a missing, empty or garbled header', () => {
    expect(clientIp({}, '10.1.1.1', lb)).toBe('10.1.1.1');
    expect(clientIp(xff(' , '), '10.1.1.1', lb)).toBe('10.1.1.1');
    expect(clientIp(xff('198.51.100.7, not-an-ip'), '10.1.1.1', lb)).toBe('10.1.1.1');
    expect(clientIp(xff('10.3.3.3, 10.4.4.4'), '10.1.1.1', lb)).toBe('10.3.3.3'); // all trusted: the farthest one
  });

  it('refuses entries that are not addresses or CIDRs', () => {
    expect(() => new TrustedProxies(['nginx'])).toThrow(/not an IP/);
  });
});
