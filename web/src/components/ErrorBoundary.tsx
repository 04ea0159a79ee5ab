/** A page that fails to render says so and offers a reload, instead of leaving the agent with a blank screen. */
import { Component, type ReactNode } from 'react';

export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <main className="centered">
        <div className="card" role="alert">
          <h1>Something went wrong on this page</h1>
          <p className="muted">{this.state.error.message}</p>
          <button type="button" className="primary" onClick={() => location.reload()}>
            Reload
          </button>
        </div>
      </main>
    );
  }
}
