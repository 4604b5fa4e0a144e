// Account and subaccount pickers (webapp/pickers.py): a Select2 that asks the server
// as the operator types, never a full list. Loaded once whatever the number of pickers.
(function ($) {
  if (window.ebsPickerLoaded) { return; }
  window.ebsPickerLoaded = true;
  $(function () {
    $('select.ebs-picker').each(function () {
      var el = $(this);
      el.select2({
        theme: 'bootstrap',
        allowClear: true,
        placeholder: el.data('placeholder'),
        minimumInputLength: 1,
        language: {
          inputTooShort: function () { return el.data('too-short'); },
          noResults: function () { return el.data('no-results'); },
          searching: function () { return el.data('searching'); }
        },
        ajax: {
          url: el.data('endpoint'),
          dataType: 'json',
          delay: 250,
          data: function (params) { return {q: params.term}; },
          processResults: function (data) { return {results: data.results}; }
        }
      });
    });
  });
})(jQuery);
