// Mounts GraphiQL, with its explorer plugin, on #graphiql.
//
// The page's Content-Security-Policy allows no inline script, so what the server decides
// (the endpoint, the example query, the headers template) comes in data- attributes.
// React, ReactDOM, GraphiQL and GraphiQLPluginExplorer are the UMD builds' globals.

(function () {
  'use strict';

  // Long enough to let a pasted or typed token settle before the schema is fetched again.
  const REFETCH_DELAY_MS = 300;

  const element = document.getElementById('graphiql');
  const config = element.dataset;

  /** The Authorization header in the headers editor's text; null while it is not JSON. */
  function authorizationOf(text) {
    let headers;
    try {
      headers = JSON.parse(text || '{}');
    } catch {
      return null;
    }
    if (headers === null || typeof headers !== 'object') return null;
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === 'authorization') return String(value);
    }
    return '';
  }

  // GraphiQL sends the headers editor's headers with every request, introspection
  // included, and fetches the schema again whenever the fetcher is a new function.
  function newFetcher() {
    return GraphiQL.createFetcher({ url: config.endpoint });
  }

  function Playground() {
    const [fetcher, setFetcher] = React.useState(newFetcher);
    const lastAuthorization = React.useRef(authorizationOf(config.headersTemplate));
    const timer = React.useRef(undefined);
    const plugins = React.useMemo(() => [GraphiQLPluginExplorer.explorerPlugin()], []);

    React.useEffect(() => () => clearTimeout(timer.current), []);

    // Without this, the docs stay on the error of the first introspection (sent with the
    // template's placeholder) until the user finds the re-fetch button.
    function onEditHeaders(text) {
      clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        const authorization = authorizationOf(text);
        if (authorization === null || authorization === lastAuthorization.current) return;
        lastAuthorization.current = authorization;
        // A function given to a state setter is called as an updater: wrap the fetcher.
        setFetcher(() => newFetcher());
      }, REFETCH_DELAY_MS);
    }

    return React.createElement(GraphiQL, {
      fetcher,
      plugins,
      defaultQuery: config.exampleQuery,
      defaultHeaders: config.headersTemplate,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // Tokens stay out of localStorage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
      onEditHeaders,
    });
  }

  ReactDOM.createRoot(element).render(React.createElement(Playground));
})();
