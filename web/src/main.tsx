import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

const root = document.getElementById('app')!;
// The boot message is static markup: clear it so the app renders into an empty node.
root.textContent = '';
render(<App />, root);
