// Starts the vendored GraphiQL on /graphql. A file of its own, not an inline script, so
// the page works under a Content-Security-Policy of script-src 'self'.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("sieve-config").textContent);
  var url = window.location.origin + window.location.pathname;
  var wsUrl = url.replace(/^http/, "ws");
  var fetchers = {};

  // Browsers cannot set headers on a WebSocket handshake, so subscriptions send the
  // headers editor's content as the connection_init payload (the server reads the key
  // there): one fetcher per distinct set of headers.
  function fetcher(params, options) {
    var headers = (options && options.headers) || {};
    var id = JSON.stringify(headers);
    if (!fetchers[id]) {
      fetchers[id] = GraphiQL.createFetcher({
        url: url,
        subscriptionUrl: wsUrl,
        wsConnectionParams: headers,
      });
    }
    return fetchers[id](params, options);
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.query,
      defaultHeaders: config.headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    })
  );
})();
